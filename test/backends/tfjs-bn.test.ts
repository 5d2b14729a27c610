// The fused training BatchNorm (src/backends/tfjs/rules-bn.ts) against plain tfjs autodiff of the unfused
// broadcasting formula, on the cpu backend: value, dx, dm (non-binary weights too, so every term of the
// closed form is exercised), dγ, dβ; the statistics handed to the sink; and no tensor leaks.
// Tolerance 2e-4 · max(1, max|ref|): both sides are float32 over ≤ 60 positions per channel, whose
// rounding (~1e-6 relative per op) stays far below it, while a wrong term is O(1).

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { fusedTrainBatchNorm } from '../../src/backends/tfjs/rules-bn.js'
import type { BatchStats } from '../../src/backends/tfjs/rules.js'
import { activate, tf } from '../../src/backends/tfjs/tf.js'

await activate('cpu')
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31)
console.log(`tfjs-bn: fast-check seed ${seed} (set FC_SEED to replay)`)

/** The unfused formula (what rules.ts / rules-mask.ts lowered to before), differentiated by tfjs. */
const unfused = (x: tf.Tensor, m: tf.Tensor | undefined, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor => {
  const axes = x.shape.slice(0, -1).map((_, i) => i)
  const w = m ?? tf.onesLike(tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 1]))
  const n = tf.maximum(tf.sum(w), 1e-12)
  const mean = tf.div(tf.sum(tf.mul(x, w), axes), n)
  const d = tf.sub(x, mean)
  const v = tf.div(tf.sum(tf.mul(tf.square(d), w), axes), n)
  const y = tf.add(tf.mul(d, tf.mul(g, tf.rsqrt(tf.add(v, eps)))), b)
  return m === undefined ? y : tf.mul(y, m)
}

const relErr = (a: tf.Tensor, b: tf.Tensor): number => {
  const av = a.dataSync(), bv = b.dataSync()
  let e = 0, s = 1
  for (let i = 0; i < bv.length; i++) {
    e = Math.max(e, Math.abs((av[i] ?? NaN) - (bv[i] ?? 0)))
    s = Math.max(s, Math.abs(bv[i] ?? 0))
  }
  return e / s
}

const arb = fc.record({
  b: fc.integer({ min: 1, max: 3 }),
  h: fc.integer({ min: 1, max: 4 }),
  w: fc.integer({ min: 1, max: 4 }),
  c: fc.integer({ min: 1, max: 4 }),
  mask: fc.constantFrom('none', 'binary', 'weights'),
  s: fc.integer({ min: 0, max: 1e6 }),
})

describe('fusedTrainBatchNorm', () => {
  it('matches autodiff of the unfused formula (value, dx, dm, dγ, dβ) and reports the statistics', () => {
    fc.assert(
      fc.property(arb, ({ b, h, w, c, mask, s }) => {
        const before = tf.memory().numTensors
        tf.tidy(() => {
          const x = tf.add(tf.mul(tf.randomNormal([b, h, w, c], 0, 1, 'float32', s), 2), 0.5)
          const gamma = tf.randomNormal([c], 0, 1, 'float32', s + 1)
          const beta = tf.randomNormal([c], 0, 1, 'float32', s + 2)
          const u = tf.randomUniform([b, h, w, 1], 0, 1, 'float32', s + 3)
          // Binary masks keep ≥ 1 active position (index 0) so the statistics are not all-zero.
          const m = mask === 'none' ? undefined : mask === 'binary' ? tf.maximum(tf.cast(tf.greater(u, 0.4), 'float32'), tf.tensor4d(Array.from({ length: b * h * w }, (_, i) => (i === 0 ? 1 : 0)), [b, h, w, 1])) : tf.add(u, 0.1)
          const dy = tf.randomNormal([b, h, w, c], 0, 1, 'float32', s + 4)
          const stats: BatchStats[] = []
          const lossOf = (f: typeof unfused) => (...ts: tf.Tensor[]): tf.Scalar =>
            tf.sum(tf.mul(f(ts[0] as tf.Tensor, m === undefined ? undefined : ts[3], ts[1] as tf.Tensor, ts[2] as tf.Tensor, 1e-5), dy))
          const fused = (x0: tf.Tensor, m0: tf.Tensor | undefined, g0: tf.Tensor, b0: tf.Tensor, eps: number): tf.Tensor => fusedTrainBatchNorm(x0, m0, g0, b0, eps, (st) => stats.push(st))
          const args = m === undefined ? [x, gamma, beta] : [x, gamma, beta, m]
          const ref = tf.grads(lossOf(unfused))(args)
          const got = tf.grads(lossOf(fused))(args)
          expect(relErr(fused(x, m, gamma, beta, 1e-5), unfused(x, m, gamma, beta, 1e-5))).toBeLessThanOrEqual(2e-4)
          for (const [i, r] of ref.entries()) expect(relErr(got[i] as tf.Tensor, r), `grad ${i} (x, γ, β, m)`).toBeLessThanOrEqual(2e-4)
          const st = stats[0]
          expect(st).toBeDefined()
          if (st !== undefined) {
            const axes = [0, 1, 2]
            const wgt = m ?? tf.onesLike(tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 1]))
            const n = tf.sum(wgt)
            const mean = tf.div(tf.sum(tf.mul(x, wgt), axes), n)
            expect(relErr(st.mean, mean)).toBeLessThanOrEqual(2e-4)
            expect(relErr(st.biasedVar, tf.div(tf.sum(tf.mul(tf.square(tf.sub(x, mean)), wgt), axes), n))).toBeLessThanOrEqual(2e-4)
            expect(typeof st.count === 'number' ? st.count : st.count.dataSync()[0]).toBeCloseTo(n.dataSync()[0] ?? NaN, 3)
          }
          for (const k of stats) tf.dispose([k.mean, k.biasedVar, ...(typeof k.count === 'number' ? [] : [k.count])])
        })
        expect(tf.memory().numTensors).toBe(before)
      }),
      { seed, numRuns: 30 },
    )
  })
})
