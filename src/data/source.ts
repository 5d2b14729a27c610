// Image sources: the common shape of everything the data pipeline reads (the built-in Fashion-MNIST subset,
// image folders): N images of uint8 HWC pixels, their channel count (1 = grey, 3 = RGB), the normalisation
// constants of that channel count, and labels when the source has classes. The built-in set is exposed as
// 1-channel images padded 28→32 with the background value 0 (black), so a 32 px model sees whole garments
// and the SparK mask grid of a stride-8 backbone is 4×4.

import * as E from 'fp-ts/lib/Either.js'
import { BUILTIN_MEAN, BUILTIN_STD, loadBuiltinDataset } from './builtin.js'
import type { LabelledImages } from './builtin.js'

/** One image: uint8, interleaved HWC, rows top to bottom. */
export interface RawImage {
  readonly width: number
  readonly height: number
  readonly channels: number
  readonly data: Uint8Array
}

/** N images of one channel count, optionally labelled. */
export interface ImageSource {
  /** For messages (e.g. `builtin:train`, a folder path). */
  readonly name: string
  readonly size: number
  readonly channels: number
  /** Per-channel mean and std of pixels in [0, 1], used by the normalisation. */
  readonly mean: ReadonlyArray<number>
  readonly std: ReadonlyArray<number>
  /** Image i (0 ≤ i < size). */
  readonly get: (i: number) => RawImage
  /** Label of each image (class index), when the source has classes. */
  readonly labels?: Uint8Array | Int32Array
  readonly classes?: ReadonlyArray<string>
  /** Original file (or index) of image i, for messages. */
  readonly describe: (i: number) => string
}

/** ImageNet RGB mean / std (torchvision, SparK). */
export const RGB_MEAN: ReadonlyArray<number> = [0.485, 0.456, 0.406]
/** See RGB_MEAN. */
export const RGB_STD: ReadonlyArray<number> = [0.229, 0.224, 0.225]

/** Pixels of padding around each built-in 28×28 image (→ 32×32). */
export const BUILTIN_PAD = 2

const padded = (s: LabelledImages, i: number): RawImage => {
  const [, h, w] = s.shape
  const W = w + 2 * BUILTIN_PAD
  const H = h + 2 * BUILTIN_PAD
  const data = new Uint8Array(W * H)
  for (let y = 0; y < h; y++) data.set(s.images.subarray((i * h + y) * w, (i * h + y + 1) * w), (y + BUILTIN_PAD) * W + BUILTIN_PAD)
  return { width: W, height: H, channels: 1, data }
}

/** Wraps an in-memory labelled split (e.g. a built-in split or a subset of it) as a source. */
export const labelledSource = (name: string, s: LabelledImages): ImageSource => ({
  name,
  size: s.shape[0],
  channels: 1,
  mean: [BUILTIN_MEAN],
  std: [BUILTIN_STD],
  get: (i) => padded(s, i),
  labels: s.labels,
  classes: s.classes,
  describe: (i) => `${name}#${i}`,
})

/** The built-in dataset's split as a 1-channel 32×32 (padded) labelled source. */
export const builtinSource = (split: 'train' | 'test'): E.Either<string, ImageSource> =>
  E.map((d: { readonly train: LabelledImages; readonly test: LabelledImages }) => labelledSource(`builtin:${split}`, d[split]))(loadBuiltinDataset())

/** The first `perClass` images of each class of a labelled split (a small, still balanced subset; for tests and smoke runs). */
export const takePerClass = (s: LabelledImages, perClass: number): LabelledImages => {
  const [, h, w, c] = s.shape
  const px = h * w * c
  const seen = new Map<number, number>()
  const keep: number[] = []
  s.labels.forEach((l, i) => {
    const k = seen.get(l) ?? 0
    if (k < perClass) {
      seen.set(l, k + 1)
      keep.push(i)
    }
  })
  const images = new Uint8Array(keep.length * px)
  keep.forEach((i, k) => images.set(s.images.subarray(i * px, (i + 1) * px), k * px))
  return { images, shape: [keep.length, h, w, c], labels: Uint8Array.from(keep.map((i) => s.labels[i] ?? 0)), classes: s.classes }
}
