// The sum of squares behind LAMB's norms and both optimisers' global gradient norm, on each tfjs backend,
// against float64 sums, at sizes up to 2.4 M elements (ResNet-50's largest conv weight, 3·3·512·512): on
// wasm this exercises the blocked Sum kernel that replaces the one-pass float32 sum.

import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import type { BackendName } from '../../src/backends/backend.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { makeRng } from '../../src/util/rng.js'
import { l2Norm, sumSquares } from '../../src/train/optimizer.js'
import { useBackend } from './optim-helpers.js'

const backends: ReadonlyArray<BackendName> = ['tfjs-cpu', 'tfjs-wasm']

describe.each(backends)('sumSquares on %s', (backend) => {
  it.each([7, 1024, 1025, 4096, 99_991, 2_359_296])('n = %i matches the float64 sum', async (n) => {
    const b = await useBackend(backend)
    if (E.isLeft(b)) return void console.log(`skipping ${backend}: ${b.left}`)
    const rng = makeRng(n)
    const x = Float32Array.from({ length: n }, () => rng.normal() * 0.05)
    let want = 0
    for (const v of x) want += v * v
    const before = tf.memory().numTensors
    const [got, norm] = tf.tidy(() => {
      const t = tf.tensor(x, [n])
      return [sumSquares(tf, t).dataSync()[0] ?? NaN, l2Norm(tf, t).dataSync()[0] ?? NaN]
    })
    expect(tf.memory().numTensors).toBe(before)
    // Two stages of ≈ √n float32 additions each: random-walk error ≈ 2·n^¼·2⁻²⁴ ≤ 1e-6 here; worst case
    // 2·√n·2⁻²⁴ ≈ 2e-4 at n = 2.4 M. 2e-5 sits between; tfjs-wasm's own one-stage tf.sum measured 1.9e-3 there.
    expect(Math.abs(got - want) / want).toBeLessThan(2e-5)
    expect(Math.abs(norm - Math.sqrt(want)) / Math.sqrt(want)).toBeLessThan(2e-5)
  })
})
