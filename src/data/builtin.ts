// The built-in dataset that ships in the repository (data/fashion-mnist-subset, see data/README.md): a
// class-balanced labelled subset of Fashion-MNIST (Zalando, MIT/Expat licence) — 8,000 train images (800
// per class) and 2,000 test images (200 per class), 28×28 grey, gzipped IDX. It lets `sparkts pretrain`,
// `probe` and `finetune` run offline with no download. Pretraining uses the train images only; the probe
// and fine-tuning use the labels. Decoded with node:zlib (the loader is Node-only, as the files are).

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { parseIdx } from './idx.js'

/** Class names of Fashion-MNIST, by label. */
export const FASHION_MNIST_CLASSES: ReadonlyArray<string> = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']

/** Grey-level mean and std of the built-in train split in [0, 1] (computed over its 8,000 images; test pins them). */
export const BUILTIN_MEAN = 0.2864
/** See BUILTIN_MEAN. */
export const BUILTIN_STD = 0.3537

/** A labelled split of uint8 images (N, H, W, C) in NHWC order. */
export interface LabelledImages {
  readonly images: Uint8Array
  /** [N, H, W, C]. */
  readonly shape: readonly [number, number, number, number]
  readonly labels: Uint8Array
  readonly classes: ReadonlyArray<string>
}

/** Both splits of the built-in dataset. */
export interface BuiltinDataset {
  readonly train: LabelledImages
  readonly test: LabelledImages
}

// src/data/builtin.ts and dist/data/builtin.js both sit two levels below the repository root.
const dataDir = new URL('../../data/fashion-mnist-subset/', import.meta.url)

const readGzIdx = (file: string): E.Either<string, { readonly shape: ReadonlyArray<number>; readonly data: Uint8Array }> => {
  try {
    return parseIdx(new Uint8Array(gunzipSync(readFileSync(new URL(file, dataDir)))), file)
  } catch (e) {
    return E.left(`built-in dataset: cannot read ${file}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`)
  }
}

const split = (prefix: 'train' | 'test'): E.Either<string, LabelledImages> =>
  pipe(
    E.Do,
    E.bind('im', () => readGzIdx(`${prefix}-images-idx3-ubyte.gz`)),
    E.bind('lb', () => readGzIdx(`${prefix}-labels-idx1-ubyte.gz`)),
    E.chain(({ im, lb }) => {
      const [n = 0, h = 0, w = 0] = im.shape
      if (im.shape.length !== 3 || lb.shape.length !== 1 || lb.shape[0] !== n) return E.left(`built-in dataset ${prefix}: images [${im.shape.join(',')}] and labels [${lb.shape.join(',')}] disagree`)
      if (lb.data.some((l) => l >= FASHION_MNIST_CLASSES.length)) return E.left(`built-in dataset ${prefix}: label out of range`)
      return E.right({ images: im.data, shape: [n, h, w, 1] as const, labels: lb.data, classes: FASHION_MNIST_CLASSES })
    }),
  )

let cache: BuiltinDataset | undefined

/** Loads (once per process) the built-in Fashion-MNIST subset: images (N, 28, 28, 1) uint8 + labels 0–9. */
export const loadBuiltinDataset = (): E.Either<string, BuiltinDataset> => {
  if (cache !== undefined) return E.right(cache)
  const r = pipe(
    E.Do,
    E.bind('train', () => split('train')),
    E.bind('test', () => split('test')),
  )
  if (E.isRight(r)) cache = r.right
  return r
}
