// Host-side masks: SparK's len_keep with Python's round (values checked against CPython's round), exact
// visible counts per sample, reproducibility by seed, validation errors, and expandMask ≡ the maskLike
// reference kernel (the graph op) on random masks and non-square grids.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { expandMask, keepCount, randomMask, roundHalfEven, userMask } from '../../src/spark/mask.js'
import { maskLike } from '../../src/backends/reference/kernels-mask.js'
import { nodeId } from '../../src/ir/graph.js'
import { f64, runs, seed } from './helpers.js'

console.log(`spark masks: fast-check seed ${seed} (set FC_SEED to replay)`)

describe('SparK masks', () => {
  it('len_keep = Python round(L·(1 − ratio)), half to even (values from CPython 3)', () => {
    // python3: [round(L*(1-r)) for L, r in ...] → 20, 36, 6, 8, 2, 0, 8, 4
    const cases: ReadonlyArray<readonly [number, number, number]> = [[49, 0.6, 20], [144, 0.75, 36], [10, 0.35, 6], [10, 0.25, 8], [4, 0.625, 2], [2, 0.75, 0], [16, 0.5, 8], [6, 0.25, 4]]
    for (const [L, r, want] of cases) expect(keepCount(L, r), `L=${L} ratio=${r}`).toBe(want)
    expect([0.5, 1.5, 2.5, -0.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, 0, 2, 3])
  })

  it('every sample keeps exactly len_keep cells; the same seed gives the same mask; samples differ', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), (b, h, w, ratio, s) => {
        const m = randomMask({ batch: b, h, w, ratio, seed: s })
        if (E.isLeft(m)) return false
        expect(m.right.shape).toEqual([b, h, w, 1])
        for (let i = 0; i < b; i++) expect(m.right.data.subarray(i * h * w, (i + 1) * h * w).reduce((a, v) => a + v, 0)).toBe(keepCount(h * w, ratio))
        expect(m.right.data.every((v) => v === 0 || v === 1)).toBe(true)
        const again = randomMask({ batch: b, h, w, ratio, seed: s })
        return E.isRight(again) && again.right.data.every((v, i) => v === m.right.data[i])
      }),
      runs(100),
    )
    const big = randomMask({ batch: 2, h: 7, w: 7, ratio: 0.6, seed: 1 })
    expect(E.isRight(big) && big.right.data.subarray(0, 49).some((v, i) => v !== big.right.data[49 + i])).toBe(true)
  })

  it('every cell is kept about (1 − ratio) of the time (uniform ranks)', () => {
    const m = randomMask({ batch: 2000, h: 2, w: 3, ratio: 0.5, seed: 11 })
    if (E.isLeft(m)) throw new Error(m.left.message)
    const freq = [0, 1, 2, 3, 4, 5].map((k) => Array.from({ length: 2000 }, (_, b) => m.right.data[b * 6 + k] ?? 0).reduce((a, v) => a + v, 0) / 2000)
    // Binomial(2000, 0.5) frequency: σ ≈ 0.011; 5σ band.
    for (const f of freq) expect(Math.abs(f - 0.5)).toBeLessThan(0.056)
  })

  it('bad inputs are Left with a message', () => {
    const msg = (e: E.Either<{ message: string }, unknown>): string => (E.isLeft(e) ? e.left.message : 'Right')
    expect(msg(randomMask({ batch: 0, h: 2, ratio: 0.5, seed: 1 }))).toMatch(/positive integers/)
    expect(msg(randomMask({ batch: 1, h: 2, ratio: 1.5, seed: 1 }))).toMatch(/ratio 1.5/)
    expect(msg(userMask([1, 2, 2], [1, 0, 1, 0]))).toMatch(/\(B, h, w, 1\)/)
    expect(msg(userMask([1, 2, 2, 1], [1, 0, 1]))).toMatch(/needs 4 values, got 3/)
    expect(msg(userMask([1, 2, 2, 1], [1, 0, 0.5, 0]))).toMatch(/0.5 at flat index 2/)
    expect(msg(userMask([1, 1, 2, 1], [1, 0]))).toBe('Right')
    const m = { shape: [1, 2, 3, 1], data: Float32Array.of(1, 0, 1, 0, 1, 1) }
    expect(msg(expandMask(m, 5, 6))).toMatch(/5x6 is not an integer multiple of the mask grid 2x3/)
  })

  it('expandMask ≡ the maskLike kernel; block structure by hand', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (b, h, w, rh, rw, s) => {
        const m = randomMask({ batch: b, h, w, ratio: 0.5, seed: s })
        if (E.isLeft(m)) return false
        const x = expandMask(m.right, h * rh, w * rw)
        if (E.isLeft(x)) return false
        const k = maskLike({ id: nodeId(0), op: 'maskLike', inputs: [], params: {} }, [f64(m.right)], [b, h * rh, w * rw, 1])
        return Array.from(x.right.data).every((v, i) => v === k.data[i])
      }),
      runs(50),
    )
    const e = expandMask({ shape: [1, 1, 2, 1], data: Float32Array.of(1, 0) }, 2, 4)
    expect(E.isRight(e) && Array.from(e.right.data)).toEqual([1, 1, 0, 0, 1, 1, 0, 0])
  })
})
