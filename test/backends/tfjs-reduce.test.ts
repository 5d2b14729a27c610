// wasm Sum/Mean accuracy: the blocked kernels (src/backends/tfjs/wasm-kernels-reduce.ts) against float64
// sums, for reductions over leading axes (BatchNorm's statistics), trailing axes, all axes and sizes
// around the block boundaries. A one-pass float32 running sum of 10^6 positive values is off by ~1e-3
// relative (tfjs-backends.md, the LAMB probe); the bound asserted is 2e-6, what a depth-3 block tree
// of float32 additions gives.

import { beforeAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { getBackend } from '../../src/backends/index.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { makeRng } from '../../src/util/rng.js'

beforeAll(async () => {
  const b = await getBackend('tfjs-wasm')
  if (E.isLeft(b)) throw new Error(b.left)
  await tf.setBackend('wasm')
})

const cases: ReadonlyArray<readonly [ReadonlyArray<number>, number | number[]]> = [
  [[1_000_000], 0],
  [[4, 96, 96, 12], [0, 1, 2]],
  [[2, 3, 129], 2],
  [[257, 5], 0],
  [[128, 3], 0],
  [[3, 7, 11, 13], [1, 3]],
  [[2, 300, 300], [0, 1, 2]],
]

describe('wasm blocked Sum and Mean ≡ float64', () => {
  for (const [shape, axis] of cases) {
    it(`shape [${shape}] axis ${JSON.stringify(axis)}: sum and mean within 2e-6 relative, keepDims shape kept`, () => {
      const r = makeRng(shape.length * 31 + shape[0]!)
      const n = shape.reduce((a, b) => a * b, 1)
      const data = Float32Array.from({ length: n }, () => 1 + r.uniform())
      const before = tf.memory().numTensors
      const x = tf.tensor(data, [...shape])
      const s = tf.sum(x, axis)
      const m = tf.mean(x, axis, true)
      // float64 reference sums
      const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + shape.length : a))
      const outShape = shape.filter((_, i) => !axes.includes(i))
      const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1))
      const outN = outShape.reduce((a, b) => a * b, 1)
      const sum64 = new Float64Array(outN)
      for (let f = 0; f < n; f++) {
        let o = 0
        for (let i = 0; i < shape.length; i++) if (!axes.includes(i)) o = o * shape[i]! + (Math.floor(f / strides[i]!) % shape[i]!)
        sum64[o]! += data[f]!
      }
      const rn = n / outN
      const got = s.dataSync()
      const gotMean = m.dataSync()
      let err = 0
      let errMean = 0
      for (let o = 0; o < outN; o++) {
        err = Math.max(err, Math.abs(got[o]! - sum64[o]!) / sum64[o]!)
        errMean = Math.max(errMean, Math.abs(gotMean[o]! - sum64[o]! / rn) / (sum64[o]! / rn))
      }
      expect(err).toBeLessThan(2e-6)
      expect(errMean).toBeLessThan(2e-6)
      expect(m.shape).toEqual(shape.map((d, i) => (axes.includes(i) ? 1 : d)))
      tf.dispose([x, s, m])
      expect(tf.memory().numTensors).toBe(before)
    })
  }
})
