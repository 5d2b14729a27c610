// SparK's visualisation maths (src/spark/visualise.ts, spec §5): per-patch statistics as the loss's target
// normalisation (mean, sqrt(unbiased var + 1e-6)); a reconstruction equal to the normalised target,
// un-normalised with the ORIGINAL patch statistics, gives back the original; a perturbed reconstruction
// shows the perturbation (scaled by the patch std) in masked patches only, visible patches show the
// input, and the masked panel is 0 where masked. fast-check seeded from env FC_SEED when set.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import type { HostTensor } from '../../src/ir/types.js'
import { expandMask, keepCount, randomMask } from '../../src/spark/mask.js'
import { patchStats, unnormalisePatches, visualise } from '../../src/spark/visualise.js'
import { makeRng } from '../../src/util/rng.js'

const fcOpts = { numRuns: 25, ...(process.env['FC_SEED'] === undefined ? {} : { seed: Number(process.env['FC_SEED']) }) }

const randn = (shape: number[], seed: number): HostTensor => {
  const r = makeRng(seed)
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
  for (let i = 0; i < data.length; i++) data[i] = r.normal() * 1.3 + 0.2
  return { shape, data }
}

/** (x − mean)/std per patch: the loss target, computed independently of visualise.ts (float64). */
const target = (x: HostTensor, p: number): HostTensor => {
  const [B = 0, H = 0, W = 0, C = 0] = x.shape
  const out = new Float32Array(x.data.length)
  for (let b = 0; b < B; b++)
    for (let r = 0; r < H / p; r++)
      for (let c = 0; c < W / p; c++) {
        const idx: number[] = []
        for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) for (let k = 0; k < C; k++) idx.push(((b * H + r * p + i) * W + c * p + j) * C + k)
        const vals = idx.map((q) => x.data[q] ?? 0)
        const mean = vals.reduce((s, v) => s + v, 0) / vals.length
        const std = Math.sqrt(vals.reduce((s, v) => s + (v - mean) ** 2, 0) / (vals.length - 1) + 1e-6)
        idx.forEach((q, n) => (out[q] = ((vals[n] ?? 0) - mean) / std))
      }
  return { shape: x.shape, data: out }
}

const arbCase = fc.record({
  B: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 3 }),
  w: fc.integer({ min: 1, max: 3 }),
  p: fc.constantFrom(1, 2, 4),
  ratio: fc.constantFrom(0.25, 0.5, 0.75),
  seed: fc.integer({ min: 0, max: 1_000_000 }),
})

describe('SparK visualisation', () => {
  it('patchStats: mean and sqrt(unbiased var + 1e-6) over the p·p·C values of each patch', () => {
    // one 2×2 patch of 3 channels holding 0..11: mean 5.5, unbiased var 13.
    const x: HostTensor = { shape: [1, 2, 2, 3], data: Float32Array.from({ length: 12 }, (_, i) => i) }
    const s = patchStats(x, 2)
    expect(s.mean[0]).toBe(5.5)
    expect(s.std[0]).toBeCloseTo(Math.sqrt(13 + 1e-6), 12)
  })

  it('a reconstruction equal to the normalised target reproduces the original in every patch', () => {
    fc.assert(
      fc.property(arbCase, ({ B, h, w, p, ratio, seed }) => {
        const x = randn([B, h * p, w * p, 3], seed)
        const mask = randomMask({ batch: B, h, w, ratio, seed: seed + 1 })
        if (E.isLeft(mask)) throw new Error(mask.left.message)
        const v = visualise(x, mask.right, target(x, p), p)
        if (E.isLeft(v)) throw new Error(v.left)
        // 1e-5 of scale: float32 (x − m)/s·s + m rounding with |x| up to ~6 and s ≥ ~0.1.
        expect(v.right.reconstruction.data.every((y, i) => Math.abs(y - (x.data[i] ?? NaN)) <= 1e-5 * 8)).toBe(true)
        expect(unnormalisePatches(target(x, p), patchStats(x, p), p).data.every((y, i) => Math.abs(y - (x.data[i] ?? NaN)) <= 1e-5 * 8)).toBe(true)
        return true
      }),
      fcOpts,
    )
  })

  it('masked patches show the prediction (δ·std_patch + original), visible patches the input; the masked panel is input·m', () => {
    fc.assert(
      fc.property(arbCase, ({ B, h, w, p, ratio, seed }) => {
        const x = randn([B, h * p, w * p, 3], seed)
        const mask = randomMask({ batch: B, h, w, ratio, seed: seed + 1 })
        if (E.isLeft(mask)) throw new Error(mask.left.message)
        const t = target(x, p)
        const delta = 0.5
        const rec: HostTensor = { shape: t.shape, data: t.data.map((v) => v + delta) }
        const v = visualise(x, mask.right, rec, p)
        const m = expandMask(mask.right, h * p, w * p)
        if (E.isLeft(v) || E.isLeft(m)) throw new Error('visualise failed')
        const stats = patchStats(x, p)
        const [H, W] = [h * p, w * p]
        let maskedSeen = 0
        for (let q = 0; q < x.data.length; q++) {
          const pix = Math.floor(q / 3)
          const visible = m.right.data[pix] === 1
          const [b, y, xx] = [Math.floor(pix / (H * W)), Math.floor(pix / W) % H, pix % W]
          const std = stats.std[(b * h + Math.floor(y / p)) * w + Math.floor(xx / p)] ?? NaN
          const want = visible ? (x.data[q] ?? NaN) : (x.data[q] ?? NaN) + delta * std
          // 1e-5 of scale as above.
          expect(Math.abs((v.right.reconstruction.data[q] ?? NaN) - want)).toBeLessThanOrEqual(8e-5)
          expect(v.right.masked.data[q]).toBe(visible ? x.data[q] : 0)
          if (!visible) maskedSeen++
        }
        expect(v.right.original).toBe(x)
        return maskedSeen > 0 || keepCount(h * w, ratio) === h * w
      }),
      fcOpts,
    )
  })

  it('refuses inconsistent shapes', () => {
    const x = randn([1, 4, 4, 3], 1)
    const mask: HostTensor = { shape: [1, 2, 2, 1], data: Float32Array.of(1, 0, 0, 1) }
    expect(E.isLeft(visualise(x, mask, randn([1, 4, 2, 3], 2), 2))).toBe(true)
    expect(E.isLeft(visualise(x, mask, x, 4))).toBe(true)
    expect(E.isRight(visualise(x, mask, x, 2))).toBe(true)
  })
})
