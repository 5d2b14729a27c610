// Geometric transforms of float RGB images, as torchvision's evaluation pipeline does them:
// Resize(size) of the shorter side (the longer side int(size·long/short), truncated) with bilinear
// filtering, then CenterCrop (offsets round((H−h)/2), Python rounding). Bilinear is the triangle
// (tent) filter on pixel centres, widened by the scale factor when shrinking so every input pixel
// contributes (antialiasing, as PIL's BILINEAR and torchvision's antialias=True); when enlarging it is
// ordinary half-pixel bilinear interpolation with edge replication. Written here rather than taken
// from a library: the pure-JS image libraries are large (jimp) or native (sharp), and this is ~40 lines.
// Computed in float32 (PIL rounds to 8 bits between the two passes: differences ≤ 1/255).

import * as E from 'fp-ts/lib/Either.js'
import { roundHalfEven } from '../spark/mask.js'
import type { FloatImage } from './image.js'

interface Taps {
  readonly start: Int32Array
  readonly count: Int32Array
  readonly weights: Float32Array
  readonly stride: number
}

/** Per output index: the first input index, the tap count and normalised tent weights. */
const taps = (inN: number, outN: number): Taps => {
  const scale = inN / outN
  const radius = Math.max(scale, 1)
  const stride = Math.ceil(radius) * 2 + 1
  const start = new Int32Array(outN)
  const count = new Int32Array(outN)
  const weights = new Float32Array(outN * stride)
  for (let o = 0; o < outN; o++) {
    const centre = (o + 0.5) * scale
    const lo = Math.max(0, Math.floor(centre - radius))
    const hi = Math.min(inN, Math.ceil(centre + radius))
    let sum = 0
    const ws: number[] = []
    for (let i = lo; i < hi; i++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / radius))
      ws.push(w)
      sum += w
    }
    // sum > 0 always: the input pixel containing `centre` lies within the radius.
    start[o] = lo
    count[o] = ws.length
    ws.forEach((w, k) => (weights[o * stride + k] = w / sum))
  }
  return { start, count, weights, stride }
}

/** Resizes to (width, height) with the (antialiased when shrinking) bilinear tent filter. */
export const resizeBilinear = (img: FloatImage, width: number, height: number): FloatImage => {
  const tx = taps(img.width, width)
  const ty = taps(img.height, height)
  const mid = new Float32Array(img.height * width * 3)
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < width; x++) {
      const s = tx.start[x] ?? 0
      let [r, g, b] = [0, 0, 0]
      for (let k = 0; k < (tx.count[x] ?? 0); k++) {
        const w = tx.weights[x * tx.stride + k] ?? 0
        const p = (y * img.width + s + k) * 3
        r += w * (img.data[p] ?? 0)
        g += w * (img.data[p + 1] ?? 0)
        b += w * (img.data[p + 2] ?? 0)
      }
      const q = (y * width + x) * 3
      ;[mid[q], mid[q + 1], mid[q + 2]] = [r, g, b]
    }
  const out = new Float32Array(height * width * 3)
  for (let y = 0; y < height; y++) {
    const s = ty.start[y] ?? 0
    for (let k = 0; k < (ty.count[y] ?? 0); k++) {
      const w = ty.weights[y * ty.stride + k] ?? 0
      const row = (s + k) * width * 3
      for (let i = 0; i < width * 3; i++) out[y * width * 3 + i] = (out[y * width * 3 + i] ?? 0) + w * (mid[row + i] ?? 0)
    }
  }
  return { width, height, data: out }
}

/** torchvision Resize(size): the shorter side becomes `size`, the longer int(size·long/short). */
export const shorterSideSize = (width: number, height: number, size: number): readonly [number, number] =>
  width <= height ? [size, Math.floor((size * height) / width)] : [Math.floor((size * width) / height), size]

/** Resizes so that the shorter side is `size` (aspect ratio kept as torchvision does). */
export const resizeShorterSide = (img: FloatImage, size: number): FloatImage => {
  const [w, h] = shorterSideSize(img.width, img.height, size)
  return w === img.width && h === img.height ? img : resizeBilinear(img, w, h)
}

/** Centre crop to (width, height), offsets rounded as torchvision (Python round); Left if larger than the image. */
export const centreCrop = (img: FloatImage, width: number, height: number): E.Either<string, FloatImage> => {
  if (width > img.width || height > img.height) return E.left(`cannot centre-crop ${width}x${height} out of a ${img.width}x${img.height} image`)
  const top = roundHalfEven((img.height - height) / 2)
  const left = roundHalfEven((img.width - width) / 2)
  const data = new Float32Array(width * height * 3)
  for (let y = 0; y < height; y++) data.set(img.data.subarray(((top + y) * img.width + left) * 3, ((top + y) * img.width + left + width) * 3), y * width * 3)
  return E.right({ width, height, data })
}
