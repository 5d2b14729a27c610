// SparK's lr warm-up + cosine and wd cosine (spec §6) at closed-form points, the exact values the official
// code produced for the fixture checkpoint (README.json pytorch_checkpoints), shape properties, and the
// argument validation.

import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { LrSchedule } from '../../src/train/schedule.js'
import { itersPerEpoch, lrAt, peakLrOf, roundHalfEven, sparkDefaults, sparkSchedules, wdAt } from '../../src/train/schedule.js'
import { fcOpts } from './optim-helpers.js'

// Values built by a different arithmetic route than the implementation agree to a few ulps: 1e-12 relative.
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b))

describe('SparK schedules, ImageNet defaults (313 it/ep, 1600 ep, 40 warm-up ep, bs 4096)', () => {
  const s = sparkSchedules({ ...sparkDefaults, itersPerEpoch: itersPerEpoch(1_281_167, 4096) })
  if (E.isLeft(s)) throw new Error(s.left)
  const { lr, wd } = s.right
  const peak = 3.2e-3

  it('derives peak lr = base·bs/256, wp = 40·313, T = 1600·313', () => {
    expect(itersPerEpoch(1_281_167, 4096)).toBe(313)
    expect(lr.peakLr).toBeCloseTo(peak, 15)
    expect(lr.warmupIters).toBe(12_520)
    expect(lr.totalIters).toBe(500_800)
  })

  it('lr: 0.5 % of peak at it 0, linear warm-up, peak at wp, half-way cosine, 0.1 % at T−1', () => {
    expect(close(lrAt(lr, 0), 0.005 * peak)).toBe(true)
    expect(close(lrAt(lr, 6260), peak * (0.005 + 0.995 * 0.5))).toBe(true)
    expect(close(lrAt(lr, 12_519), peak * (0.005 + (0.995 * 12_519) / 12_520))).toBe(true)
    expect(close(lrAt(lr, 12_520), peak)).toBe(true)
    const mid = 12_520 + (500_799 - 12_520) / 2
    expect(close(lrAt(lr, mid), peak * (0.001 + 0.999 * 0.5 * (1 + Math.cos(Math.PI / 2))))).toBe(true)
    expect(close(lrAt(lr, 500_799), 0.001 * peak)).toBe(true)
  })

  it('wd: 0.04 at it 0, 0.12 half-way, 0.2 at T−1 (cosine increase)', () => {
    expect(close(wdAt(wd, 0), 0.04)).toBe(true)
    expect(close(wdAt(wd, 500_799 / 2), 0.12)).toBe(true)
    expect(close(wdAt(wd, 500_799), 0.2)).toBe(true)
    expect(close(wdAt(wd, 500_799 / 4), 0.2 + (0.04 - 0.2) * 0.5 * (1 + Math.SQRT1_2))).toBe(true)
  })
})

describe('values of the official code', () => {
  it('fixture iteration 0: peak 1.5625e-6, wp 40, T 1600 → lr 7.812500000000001e-09, wd 0.04000000000000001 (bit-exact)', () => {
    expect(peakLrOf(2e-4, 2)).toBe(1.5625e-6)
    expect(lrAt({ peakLr: 1.5625e-6, warmupIters: 40, totalIters: 1600 }, 0)).toBe(7.812500000000001e-9)
    expect(wdAt({ wd: 0.04, wdEnd: 0.2, totalIters: 1600 }, 0)).toBe(0.04000000000000001)
  })

  it('Python round: ties to even', () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.4999, 2.5001, 12_520].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 3, 12_520])
    // wp_ep·iters = 2.5 rounds to 2 warm-up iterations, as SparK's round() does.
    const s = sparkSchedules({ ...sparkDefaults, epochs: 10, warmupEpochs: 0.5, itersPerEpoch: 5 })
    expect(E.isRight(s) && s.right.lr.warmupIters).toBe(2)
  })
})

describe('schedule properties', () => {
  const cfg = fc.record({
    peakLr: fc.double({ min: 1e-6, max: 1, noNaN: true }),
    warmupIters: fc.integer({ min: 1, max: 500 }),
    extra: fc.integer({ min: 2, max: 5000 }),
  }).map(({ peakLr, warmupIters, extra }): LrSchedule => ({ peakLr, warmupIters, totalIters: warmupIters + extra }))

  it('lr rises during warm-up, falls after it, stays in [0.001·peak, peak] (within rounding)', () => {
    fc.assert(fc.property(cfg, fc.double({ min: 0, max: 1, noNaN: true }), (s, f) => {
      const it = Math.floor(f * (s.totalIters - 2))
      const a = lrAt(s, it), b = lrAt(s, it + 1)
      const inRange = a >= 0.001 * s.peakLr * (1 - 1e-12) && a <= s.peakLr * (1 + 1e-12)
      const monotone = it + 1 <= s.warmupIters ? b > a : b <= a * (1 + 1e-12)
      return inRange && monotone
    }), fcOpts(200))
  })

  it('wd moves monotonically from wd to wdEnd', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 3, max: 10_000 }), (w0, w1, T) => {
      const s = { wd: w0, wdEnd: w1, totalIters: T }
      const a = wdAt(s, 1), b = wdAt(s, 2)
      // Values lie in [0, 1]: absolute 1e-12 covers double rounding (a relative bound breaks on subnormals).
      return Math.abs(wdAt(s, 0) - w0) <= 1e-12 && Math.abs(wdAt(s, T - 1) - w1) <= 1e-12 && (w1 >= w0 ? b >= a - 1e-15 : b <= a + 1e-15)
    }), fcOpts(200))
  })
})

describe('argument validation', () => {
  const ok = { ...sparkDefaults, itersPerEpoch: 10 }
  it.each([
    ['baseLr', { ...ok, baseLr: 0 }],
    ['globalBatch', { ...ok, globalBatch: 1.5 }],
    ['itersPerEpoch', { ...ok, itersPerEpoch: 0 }],
    ['epochs', { ...ok, epochs: -1 }],
    ['warmupEpochs', { ...ok, warmupEpochs: Number.NaN }],
    ['wd', { ...ok, wd: -0.1 }],
    ['warm-up', { ...ok, epochs: 4, warmupEpochs: 4 }],
  ])('rejects a bad %s', (what, a) => {
    const r = sparkSchedules(a)
    expect(E.isLeft(r) && r.left).toContain(what)
  })
  it('accepts the defaults', () => expect(E.isRight(sparkSchedules(ok))).toBe(true))
})
