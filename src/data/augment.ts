// SparK's pretraining augmentation (spec §6): RandomResizedCrop(size, scale (0.67, 1), ratio (3/4, 4/3)) →
// RandomHorizontalFlip(0.5) → [0, 1] → per-channel normalisation, plus the deterministic evaluation
// transform (resize the shorter side, centre-crop, normalise). The crop box is drawn as torchvision's
// RandomResizedCrop.get_params (up to 10 tries of area·U(scale) and log-uniform aspect, Python rounding,
// then a centre-crop fallback), from an explicit Rng so a batch is a pure function of its seeds.
// Resizing is src/image's bilinear tent filter (antialiased when shrinking) instead of the official
// bicubic: on 28→32 px upscales the two differ by a slight softening, which masked reconstruction and
// linear probes are insensitive to, and bilinear needs no negative-lobe clamping. Works for 1 or 3 channels.

import * as E from 'fp-ts/lib/Either.js'
import { centreCrop, resizeBilinear, resizeShorterSide } from '../image/transform.js'
import type { FloatImage } from '../image/image.js'
import type { Rng } from '../util/rng.js'
import { roundHalfEven } from '../util/round.js'
import type { RawImage } from './source.js'

/** RandomResizedCrop ranges. */
export interface CropRanges {
  readonly scale: readonly [number, number]
  readonly ratio: readonly [number, number]
}

/** SparK's ranges: scale (0.67, 1), torchvision's default ratio (3/4, 4/3). */
export const SPARK_CROP: CropRanges = { scale: [0.67, 1], ratio: [3 / 4, 4 / 3] }

/** A crop box in pixels: top, left, height, width. */
export interface CropBox {
  readonly top: number
  readonly left: number
  readonly height: number
  readonly width: number
}

const randint = (rng: Rng, lo: number, hiExclusive: number): number => lo + Math.min(hiExclusive - lo - 1, Math.floor(rng.uniform() * (hiExclusive - lo)))

/** torchvision RandomResizedCrop.get_params for an image of width×height. */
export const randomCropBox = (width: number, height: number, rng: Rng, r: CropRanges = SPARK_CROP): CropBox => {
  const area = width * height
  const [lr0, lr1] = [Math.log(r.ratio[0]), Math.log(r.ratio[1])]
  for (let t = 0; t < 10; t++) {
    const target = area * (r.scale[0] + (r.scale[1] - r.scale[0]) * rng.uniform())
    const aspect = Math.exp(lr0 + (lr1 - lr0) * rng.uniform())
    const w = roundHalfEven(Math.sqrt(target * aspect))
    const h = roundHalfEven(Math.sqrt(target / aspect))
    if (w > 0 && w <= width && h > 0 && h <= height) return { top: randint(rng, 0, height - h + 1), left: randint(rng, 0, width - w + 1), height: h, width: w }
  }
  const inRatio = width / height
  const [w, h] =
    inRatio < r.ratio[0] ? [width, roundHalfEven(width / r.ratio[0])] : inRatio > r.ratio[1] ? [roundHalfEven(height * r.ratio[1]), height] : [width, height]
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w }
}

/** The crop of a uint8 image as a 3-channel float image in [0, 1] (1 channel replicated; src/image works on RGB). */
const cropToFloat = (img: RawImage, b: CropBox): FloatImage => {
  const data = new Float32Array(b.width * b.height * 3)
  const c = img.channels
  for (let y = 0; y < b.height; y++)
    for (let x = 0; x < b.width; x++) {
      const p = ((b.top + y) * img.width + b.left + x) * c
      const q = (y * b.width + x) * 3
      for (let k = 0; k < 3; k++) data[q + k] = (img.data[p + (c === 1 ? 0 : k)] ?? 0) / 255
    }
  return { width: b.width, height: b.height, data }
}

/** Writes `f` (3-channel, [0, 1]) normalised into out[offset…] as `channels` channels, optionally mirrored. */
const normaliseInto = (f: FloatImage, channels: number, mean: ReadonlyArray<number>, std: ReadonlyArray<number>, flip: boolean, out: Float32Array, offset: number): void => {
  for (let y = 0; y < f.height; y++)
    for (let x = 0; x < f.width; x++) {
      const sx = flip ? f.width - 1 - x : x
      const p = (y * f.width + sx) * 3
      const q = offset + (y * f.width + x) * channels
      for (let k = 0; k < channels; k++) out[q + k] = ((f.data[p + k] ?? 0) - (mean[k] ?? 0)) / (std[k] ?? 1)
    }
}

/** Per-channel normalisation constants. */
export interface Norm {
  readonly mean: ReadonlyArray<number>
  readonly std: ReadonlyArray<number>
}

/** Training transform: random resized crop to size×size, flip with p 0.5, normalise; written at out[offset…]. */
export const augmentInto = (img: RawImage, size: number, norm: Norm, rng: Rng, out: Float32Array, offset: number, r: CropRanges = SPARK_CROP): void => {
  const box = randomCropBox(img.width, img.height, rng, r)
  const flip = rng.uniform() < 0.5
  normaliseInto(resizeBilinear(cropToFloat(img, box), size, size), img.channels, norm.mean, norm.std, flip, out, offset)
}

/** Evaluation transform: shorter side → size, centre crop size×size (identity for a size×size image), normalise. */
export const evalTransformInto = (img: RawImage, size: number, norm: Norm, out: Float32Array, offset: number): E.Either<string, void> => {
  const f = cropToFloat(img, { top: 0, left: 0, height: img.height, width: img.width })
  const fitted = img.width === size && img.height === size ? E.right(f) : centreCrop(resizeShorterSide(f, size), size, size)
  if (E.isLeft(fitted)) return fitted
  normaliseInto(fitted.right, img.channels, norm.mean, norm.std, false, out, offset)
  return E.right(undefined)
}
