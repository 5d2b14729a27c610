// Places images of equal height side by side, left to right, separated by a gap of a background colour
// (the `reconstruct` picture: masked input | reconstruction | original).

import type { FloatImage } from './image.js'

/** Options of `sideBySide`. */
export interface ComposeOptions {
  /** Pixels between neighbouring images (default 4). */
  readonly gap?: number
  /** Gap colour, RGB in [0, 1] (default white). */
  readonly background?: readonly [number, number, number]
}

/** The images next to each other; all must have the same height. */
export const sideBySide = (images: ReadonlyArray<FloatImage>, o: ComposeOptions = {}): FloatImage => {
  const gap = images.length > 1 ? (o.gap ?? 4) : 0
  const bg = o.background ?? [1, 1, 1]
  const height = images[0]?.height ?? 0
  for (const im of images) if (im.height !== height) throw new RangeError(`sideBySide: heights differ (${height} vs ${im.height})`)
  const width = images.reduce((s, im) => s + im.width, 0) + gap * Math.max(0, images.length - 1)
  const data = new Float32Array(width * height * 3)
  for (let p = 0; p < width * height; p++) data.set(bg, p * 3)
  let x0 = 0
  for (const im of images) {
    for (let y = 0; y < height; y++) data.set(im.data.subarray(y * im.width * 3, (y + 1) * im.width * 3), (y * width + x0) * 3)
    x0 += im.width + gap
  }
  return { width, height, data }
}
