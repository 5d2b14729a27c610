// The probe's classifier: standardisation (train statistics) and multinomial logistic regression —
// separable synthetic clusters are learnt to high accuracy (property over seeds), shuffled labels are not
// (the classifier does not "pass" on anything), and predictions follow the weights.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Features } from '../../src/eval/logistic.js'
import { accuracy, fitLogistic, predict, standardise } from '../../src/eval/logistic.js'
import { makeRng } from '../../src/util/rng.js'

const fcOpts = (numRuns: number) => ({ numRuns, ...(process.env['FC_SEED'] === undefined ? {} : { seed: Number(process.env['FC_SEED']) }) })

/** n points per class around k random centres in d dims (centre spread 3, noise 1), with an offset and scale per column. */
const clusters = (seed: number, k: number, d: number, n: number): { readonly x: Features; readonly y: Int32Array } => {
  const rng = makeRng(seed)
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => 3 * rng.normal()))
  const data = new Float32Array(k * n * d)
  const y = new Int32Array(k * n)
  for (let c = 0; c < k; c++)
    for (let i = 0; i < n; i++) {
      const r = c * n + i
      y[r] = c
      for (let j = 0; j < d; j++) data[r * d + j] = 100 + (j + 1) * 10 * ((centres[c]?.[j] ?? 0) + rng.normal())
    }
  return { x: { n: k * n, d, data }, y }
}

describe('logistic regression probe', () => {
  it('standardise: train columns get mean 0 and std 1; the test split uses the train statistics', () => {
    const { x } = clusters(1, 3, 5, 20)
    const [a, b] = standardise(x, { n: 1, d: 5, data: new Float32Array(5).fill(100) })
    for (let j = 0; j < 5; j++) {
      let s = 0
      let s2 = 0
      for (let i = 0; i < x.n; i++) {
        const v = a?.data[i * 5 + j] ?? NaN
        s += v
        s2 += v * v
      }
      // float32 storage of standardised values: 1e-4 relative is ample for 60 rows.
      expect(Math.abs(s / x.n)).toBeLessThan(1e-4)
      expect(Math.abs(s2 / x.n - 1)).toBeLessThan(1e-4)
    }
    expect(b?.data.every((v) => Number.isFinite(v) && v !== 0)).toBe(true)
  })

  it('separable clusters (10 classes, 16 dims) are fitted to ≥ 95% training accuracy and a low loss (property over seeds)', () => {
    fc.assert(
      fc.property(fc.nat(10_000), (seed) => {
        const tr = clusters(seed, 10, 16, 30)
        const [a] = standardise(tr.x)
        if (a === undefined) return false
        const m = fitLogistic(a, tr.y, { classes: 10, iterations: 150 })
        const trainAcc = accuracy(predict(m.model, a), tr.y)
        return trainAcc >= 0.95 && m.loss < 0.5
      }),
      fcOpts(5),
    )
  })

  it('generalises: fitted on half the points of each cluster, ≥ 95% on the other half', () => {
    const all = clusters(42, 10, 16, 40)
    const pick = (odd: number): { readonly x: Features; readonly y: Int32Array } => {
      const rows = Array.from({ length: all.x.n }, (_, i) => i).filter((i) => i % 2 === odd)
      const data = new Float32Array(rows.length * 16)
      rows.forEach((r, k) => data.set(all.x.data.subarray(r * 16, (r + 1) * 16), k * 16))
      return { x: { n: rows.length, d: 16, data }, y: Int32Array.from(rows.map((r) => all.y[r] ?? 0)) }
    }
    const tr = pick(0)
    const te = pick(1)
    const [a, b] = standardise(tr.x, te.x)
    if (a === undefined || b === undefined) throw new Error('standardise')
    const m = fitLogistic(a, tr.y, { classes: 10, iterations: 150 })
    expect(accuracy(predict(m.model, b), te.y)).toBeGreaterThanOrEqual(0.95)
  })

  it('random labels on noise stay near chance on held-out points (the probe cannot pass on anything)', () => {
    const rng = makeRng(3)
    const mk = (n: number): { readonly x: Features; readonly y: Int32Array } => ({
      x: { n, d: 8, data: Float32Array.from({ length: n * 8 }, () => rng.normal()) },
      y: Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * 10)),
    })
    const tr = mk(400)
    const te = mk(400)
    const [a, b] = standardise(tr.x, te.x)
    if (a === undefined || b === undefined) throw new Error('standardise')
    const m = fitLogistic(a, tr.y, { classes: 10, iterations: 150 })
    // Chance is 10%; with 400 test points a 3-sigma band is ±4.5%: 0.2 is far above anything noise gives.
    expect(accuracy(predict(m.model, b), te.y)).toBeLessThan(0.2)
  })
})
