// The labelled train/test splits of the evaluation commands: `builtin` (the committed Fashion-MNIST
// subset: its own train and test splits, 1 channel) or a folder with class subfolders (3 channels) —
// either `<dir>/train` and `<dir>/test` (or `<dir>/val`), each with class subfolders, or one folder of
// class subfolders split deterministically: within each class (sorted file order) every 5th image goes to
// test. `perClass` keeps the first n images of each class in each split (quick runs, tests).

import * as E from 'fp-ts/lib/Either.js'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { loadBuiltinDataset } from '../data/builtin.js'
import { loadImageFolder } from '../data/folder.js'
import type { ImageSource } from '../data/source.js'
import { labelledSource, takePerClass } from '../data/source.js'

/** Train and test sources with the same classes. */
export interface LabelledSplits {
  readonly train: ImageSource
  readonly test: ImageSource
  readonly classes: ReadonlyArray<string>
}

/** The images of `src` at `indices`, in that order. */
export const subsetSource = (src: ImageSource, indices: ReadonlyArray<number>, name = src.name): ImageSource => ({
  name,
  size: indices.length,
  channels: src.channels,
  mean: src.mean,
  std: src.std,
  get: (i) => src.get(indices[i] ?? 0),
  ...(src.labels === undefined ? {} : { labels: Int32Array.from(indices.map((i) => src.labels?.[i] ?? 0)) }),
  ...(src.classes === undefined ? {} : { classes: src.classes }),
  describe: (i) => src.describe(indices[i] ?? 0),
})

const firstPerClass = (src: ImageSource, perClass: number | undefined): ImageSource => {
  if (perClass === undefined || src.labels === undefined) return src
  const seen = new Map<number, number>()
  const keep: number[] = []
  for (let i = 0; i < src.size; i++) {
    const l = src.labels[i] ?? 0
    const k = seen.get(l) ?? 0
    if (k < perClass) keep.push(i)
    seen.set(l, k + 1)
  }
  return subsetSource(src, keep)
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory()

const labelledFolder = (dir: string, warn: (m: string) => void): E.Either<string, ImageSource> => {
  const s = loadImageFolder(dir, { warn })
  if (E.isLeft(s)) return s
  if (s.right.labels === undefined || (s.right.classes?.length ?? 0) < 2) return E.left(`${dir}: needs one subfolder per class (at least 2) with the images inside`)
  return s
}

/** Resolves `builtin` or a folder (see the header) to labelled train/test splits. */
export const loadLabelledSplits = (spec: string, o: { readonly warn?: (m: string) => void; readonly perClass?: number } = {}): E.Either<string, LabelledSplits> => {
  const warn = o.warn ?? (() => undefined)
  if (spec === 'builtin') {
    const d = loadBuiltinDataset()
    if (E.isLeft(d)) return d
    const cut = (s: typeof d.right.train) => (o.perClass === undefined ? s : takePerClass(s, o.perClass))
    return E.right({ train: labelledSource('builtin:train', cut(d.right.train)), test: labelledSource('builtin:test', cut(d.right.test)), classes: d.right.train.classes })
  }
  const testDir = [join(spec, 'test'), join(spec, 'val')].find(isDir)
  if (isDir(join(spec, 'train')) && testDir !== undefined) {
    const tr = labelledFolder(join(spec, 'train'), warn)
    if (E.isLeft(tr)) return tr
    const te = labelledFolder(testDir, warn)
    if (E.isLeft(te)) return te
    const classes = tr.right.classes ?? []
    if (JSON.stringify(te.right.classes) !== JSON.stringify(classes)) return E.left(`${testDir}: classes [${(te.right.classes ?? []).join(', ')}] differ from train's [${classes.join(', ')}]`)
    return E.right({ train: firstPerClass(tr.right, o.perClass), test: firstPerClass(te.right, o.perClass), classes })
  }
  const all = labelledFolder(spec, warn)
  if (E.isLeft(all)) return all
  const seen = new Map<number, number>()
  const train: number[] = []
  const test: number[] = []
  for (let i = 0; i < all.right.size; i++) {
    const l = all.right.labels?.[i] ?? 0
    const k = seen.get(l) ?? 0
    seen.set(l, k + 1)
    ;(k % 5 === 4 ? test : train).push(i)
  }
  if (test.length === 0) return E.left(`${spec}: too few images for a test split (every 5th image of a class is held out)`)
  return E.right({
    train: firstPerClass(subsetSource(all.right, train, `${spec} (train)`), o.perClass),
    test: firstPerClass(subsetSource(all.right, test, `${spec} (test)`), o.perClass),
    classes: all.right.classes ?? [],
  })
}
