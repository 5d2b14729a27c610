// Seeded, resumable batches. The batch of (epoch e, step s) — which images, in which order, and every
// random number of their augmentation — is a pure function of (seed, e, s): the epoch's permutation comes
// from an Rng seeded by hash(seed, e), sample k's augmentation from one seeded by hash(seed, e, s, k). A
// run resumed at (e, s) therefore sees exactly the batches an uninterrupted run sees, with no generator
// state to checkpoint. As SparK (spec §6), an epoch has ceil(N / B) steps and the last batch is filled up
// with images from the start of the epoch's permutation. Output: NHWC float32 host tensors.

import * as E from 'fp-ts/lib/Either.js'
import type { HostTensor } from '../ir/types.js'
import type { Rng } from '../util/rng.js'
import { hashSeed, makeRng } from '../util/rng.js'
import type { CropRanges } from './augment.js'
import { SPARK_CROP, augmentInto, evalTransformInto } from './augment.js'
import type { ImageSource } from './source.js'

/** What a training batch stream needs. */
export interface BatchConfig {
  readonly seed: number
  readonly batchSize: number
  /** Output side in pixels (square). */
  readonly inputSize: number
  /** Apply RandomResizedCrop + flip (default true); false = the evaluation transform in shuffled order. */
  readonly augment?: boolean
  readonly crop?: CropRanges
}

/** A batch: the NHWC input, the source indices it holds, and their labels when the source has them. */
export interface Batch {
  readonly input: HostTensor
  readonly indices: ReadonlyArray<number>
  readonly labels?: Int32Array
}

/** Steps per epoch: ceil(N / B) (SparK's iterations per epoch). */
export const stepsPerEpoch = (n: number, batchSize: number): number => Math.ceil(n / batchSize)

const streamRng = (seed: number, ...key: ReadonlyArray<number>): Rng => makeRng(hashSeed(key.join(':'), seed >>> 0))

/** The image order of an epoch: a Fisher–Yates permutation of 0..n−1 seeded by (seed, epoch). */
export const epochPermutation = (seed: number, epoch: number, n: number): Int32Array => {
  const rng = streamRng(seed, 0x70, epoch)
  const p = new Int32Array(n)
  for (let i = 0; i < n; i++) p[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(rng.uniform() * (i + 1)))
    const t = p[i] ?? 0
    p[i] = p[j] ?? 0
    p[j] = t
  }
  return p
}

/** Source indices of batch (epoch, step); the last step of an epoch wraps around to the permutation's start. */
export const batchIndices = (seed: number, epoch: number, step: number, n: number, batchSize: number): ReadonlyArray<number> => {
  const perm = epochPermutation(seed, epoch, n)
  return Array.from({ length: batchSize }, (_, k) => perm[(step * batchSize + k) % n] ?? 0)
}

const labelsOf = (src: ImageSource, idx: ReadonlyArray<number>): { readonly labels?: Int32Array } =>
  src.labels === undefined ? {} : { labels: Int32Array.from(idx.map((i) => src.labels?.[i] ?? 0)) }

/** The training batch of (epoch, step): a pure function of (source, config, epoch, step). */
export const trainBatch = (src: ImageSource, c: BatchConfig, epoch: number, step: number): E.Either<string, Batch> => {
  if (src.size === 0) return E.left(`${src.name}: no images`)
  if (!(c.batchSize >= 1) || !(c.inputSize >= 1)) return E.left(`batch size and input size must be >= 1, got ${c.batchSize}, ${c.inputSize}`)
  if (step < 0 || step >= stepsPerEpoch(src.size, c.batchSize)) return E.left(`step ${step} is outside epoch of ${stepsPerEpoch(src.size, c.batchSize)} steps`)
  const idx = batchIndices(c.seed, epoch, step, src.size, c.batchSize)
  const per = c.inputSize * c.inputSize * src.channels
  const data = new Float32Array(idx.length * per)
  const norm = { mean: src.mean, std: src.std }
  for (const [k, i] of idx.entries()) {
    if (c.augment ?? true) augmentInto(src.get(i), c.inputSize, norm, streamRng(c.seed, 0xa6, epoch, step, k), data, k * per, c.crop ?? SPARK_CROP)
    else {
      const r = evalTransformInto(src.get(i), c.inputSize, norm, data, k * per)
      if (E.isLeft(r)) return E.left(`${src.describe(i)}: ${r.left}`)
    }
  }
  return E.right({ input: { shape: [idx.length, c.inputSize, c.inputSize, src.channels], data }, indices: idx, ...labelsOf(src, idx) })
}

/** Images [start, start+count) in source order with the evaluation transform (features, validation pictures). */
export const evalBatch = (src: ImageSource, inputSize: number, start: number, count: number): E.Either<string, Batch> => {
  const idx = Array.from({ length: Math.max(0, Math.min(count, src.size - start)) }, (_, k) => start + k)
  const per = inputSize * inputSize * src.channels
  const data = new Float32Array(idx.length * per)
  for (const [k, i] of idx.entries()) {
    const r = evalTransformInto(src.get(i), inputSize, { mean: src.mean, std: src.std }, data, k * per)
    if (E.isLeft(r)) return E.left(`${src.describe(i)}: ${r.left}`)
  }
  return E.right({ input: { shape: [idx.length, inputSize, inputSize, src.channels], data }, indices: idx, ...labelsOf(src, idx) })
}
