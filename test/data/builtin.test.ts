// The committed Fashion-MNIST subset: counts, class balance, pixel checksums (pinned from the files made by
// data/make-fashion-mnist-subset.mjs), the documented normalisation statistics, and the IDX parser's refusals.

import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { BUILTIN_MEAN, BUILTIN_STD, loadBuiltinDataset } from '../../src/data/builtin.js'
import { parseIdx } from '../../src/data/idx.js'

const load = () => {
  const d = loadBuiltinDataset()
  if (E.isLeft(d)) throw new Error(d.left)
  return d.right
}

const sum = (a: Uint8Array): number => a.reduce((s, v) => s + v, 0)

describe('built-in dataset', () => {
  it('has 8,000 train and 2,000 test 28×28×1 images, class-balanced', () => {
    const d = load()
    expect(d.train.shape).toEqual([8000, 28, 28, 1])
    expect(d.test.shape).toEqual([2000, 28, 28, 1])
    expect(d.train.images.length).toBe(8000 * 784)
    expect(d.test.images.length).toBe(2000 * 784)
    for (const [s, per] of [[d.train, 800], [d.test, 200]] as const) {
      const counts = new Array<number>(10).fill(0)
      for (const l of s.labels) counts[l] = (counts[l] ?? 0) + 1
      expect(counts).toEqual(new Array<number>(10).fill(per))
    }
    expect(d.train.classes.length).toBe(10)
  })

  it('pixel and label checksums match the committed files', () => {
    const d = load()
    expect(sum(d.train.images)).toBe(458091831)
    expect(sum(d.test.images)).toBe(114072606)
    // Labels in file order: first ones of the upstream train file are 9 (ankle boot), 0, 0, 3, 0.
    expect([...d.train.labels.subarray(0, 5)]).toEqual([9, 0, 0, 3, 0])
    expect(sum(d.train.labels)).toBe(800 * 45)
  })

  it('the documented grey mean/std are those of the train split', () => {
    const d = load()
    let s = 0
    let s2 = 0
    for (const v of d.train.images) {
      s += v / 255
      s2 += (v / 255) ** 2
    }
    const n = d.train.images.length
    const mean = s / n
    // Constants are rounded to 4 decimals: 1e-4 covers the rounding.
    expect(Math.abs(mean - BUILTIN_MEAN)).toBeLessThan(1e-4)
    expect(Math.abs(Math.sqrt(s2 / n - mean * mean) - BUILTIN_STD)).toBeLessThan(1e-4)
  })

  it('parseIdx refuses bad magic, other types, truncation and size mismatch', () => {
    expect(E.isLeft(parseIdx(new Uint8Array([1, 0, 8, 1, 0, 0, 0, 0])))).toBe(true)
    expect(E.isLeft(parseIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 0])))).toBe(true)
    expect(E.isLeft(parseIdx(new Uint8Array([0, 0, 8, 2, 0, 0, 0, 1])))).toBe(true)
    expect(E.isLeft(parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7])))).toBe(true)
    const ok = parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]))
    expect(E.isRight(ok) && ok.right.shape[0] === 2 && ok.right.data[1] === 9).toBe(true)
  })
})
