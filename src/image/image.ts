// The two in-memory image forms of the image pipeline: 8-bit RGB as codecs read and write it, and float
// RGB in [0, 1] (interleaved, row-major, HWC) for resizing, normalisation and composition. Alpha is
// dropped on decode (as PIL's convert('RGB'), which torchvision pipelines use), so both are 3-channel.

/** 8-bit RGB image, interleaved (R,G,B per pixel), rows top to bottom. */
export interface Rgb8Image {
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
}

/** Float RGB image, interleaved HWC, nominally in [0, 1]. */
export interface FloatImage {
  readonly width: number
  readonly height: number
  readonly data: Float32Array
}

/** 8-bit → float in [0, 1] (x / 255, as torchvision's ToTensor). */
export const toFloatImage = (img: Rgb8Image): FloatImage => {
  const data = new Float32Array(img.data.length)
  for (let i = 0; i < data.length; i++) data[i] = (img.data[i] ?? 0) / 255
  return { width: img.width, height: img.height, data }
}

/** Float → 8-bit: clamp to [0, 1], scale by 255, round half up (NaN becomes 0). */
export const toRgb8Image = (img: FloatImage): Rgb8Image => {
  const data = new Uint8Array(img.data.length)
  for (let i = 0; i < data.length; i++) {
    const v = img.data[i] ?? 0
    data[i] = Number.isNaN(v) ? 0 : Math.floor(Math.min(1, Math.max(0, v)) * 255 + 0.5)
  }
  return { width: img.width, height: img.height, data }
}

/** Drops the alpha channel of RGBA bytes (length 4·w·h). */
export const rgbaToRgb = (rgba: Uint8Array, width: number, height: number): Rgb8Image => {
  const n = width * height
  const data = new Uint8Array(n * 3)
  for (let p = 0; p < n; p++) {
    data[3 * p] = rgba[4 * p] ?? 0
    data[3 * p + 1] = rgba[4 * p + 1] ?? 0
    data[3 * p + 2] = rgba[4 * p + 2] ?? 0
  }
  return { width, height, data }
}

/** RGB → RGBA with opaque alpha. */
export const rgbToRgba = (img: Rgb8Image): Uint8Array => {
  const n = img.width * img.height
  const out = new Uint8Array(n * 4)
  for (let p = 0; p < n; p++) {
    out[4 * p] = img.data[3 * p] ?? 0
    out[4 * p + 1] = img.data[3 * p + 1] ?? 0
    out[4 * p + 2] = img.data[3 * p + 2] ?? 0
    out[4 * p + 3] = 255
  }
  return out
}
