// The sparkts wasm kernels (conv / depthwise backprops, Conv2DBackpropInput replacement, exact MaxPoolGrad)
// against the stock cpu kernels and against central finite differences of float64 naive implementations.
// Tolerances: wasm vs cpu max|Δ|/max|cpu| ≤ 1e-5 — both float32, they differ only by summation order over
//   ≤ ~600 terms (rounding ~1e-7 relative per term, random signs); maxPool routing is exact (≤ 1e-7).
// FD: the losses are linear in x and in w (conv) or piecewise linear without ties (maxPool), so the
//   float64 central difference (h = 1e-6; small enough not to cross a max switch) is exact up to ~1e-9; the float32 gradient is checked to
//   1e-4·Σ|g·v| (float32 accumulation error relative to the magnitude of the summed terms).

import { beforeAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { tfjsWasmBackend } from '../../src/backends/tfjs/wasm.js'
import { installedWasmKernels } from '../../src/backends/tfjs/wasm-kernels.js'
import type { T64 } from './tfjs-helpers.js'
import { absDot, centralDiff, conv64, convT64, dot, maxPool64, randn64 } from './tfjs-helpers.js'

type P2 = readonly [readonly [number, number], readonly [number, number]]
const f32 = (t: T64): tf.Tensor => tf.tensor(Float32Array.from(t.data), [...t.shape])
const explicit = (p: P2): tf.backend_util.ExplicitPadding => [[0, 0], [p[0][0], p[0][1]], [p[1][0], p[1][1]], [0, 0]]

beforeAll(async () => {
  const ok = await tfjsWasmBackend().init()
  if (E.isLeft(ok)) throw new Error(ok.left)
})

/** Gradients of Σ f(args)·cot on a backend, with a leak check (tensors and backend data ids). */
const gradsOn = async (backend: string, f: (...a: tf.Tensor[]) => tf.Tensor, args: ReadonlyArray<T64>, cot: (shape: number[]) => T64): Promise<Float32Array[]> => {
  await tf.setBackend(backend)
  const ts = args.map(f32)
  const tensorsBefore = tf.memory().numTensors
  const idsBefore = tf.backend().numDataIds()
  const gs = tf.tidy(() => {
    const shape = tf.tidy(() => f(...ts).shape)
    const c = f32(cot(shape))
    return tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), c)))(ts)
  })
  const out = gs.map((g) => g.dataSync() as Float32Array)
  tf.dispose(gs)
  expect(tf.memory().numTensors, `${backend}: tensors leaked`).toBe(tensorsBefore)
  expect(tf.backend().numDataIds(), `${backend}: backend data leaked`).toBe(idsBefore)
  tf.dispose(ts)
  return out
}

const relDiff = (a: Float32Array, b: Float32Array): number => {
  let d = 0, m = 0
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!))
    m = Math.max(m, Math.abs(b[i]!))
  }
  expect(m, 'reference gradient is all zero').toBeGreaterThan(0)
  return d / m
}

/** Checks wasm ≡ cpu and wasm ≡ FD of the float64 loss for every argument. */
const checkGrads = async (f: (...a: tf.Tensor[]) => tf.Tensor, f64: (...a: T64[]) => T64, args: T64[], seed: number): Promise<void> => {
  const cot = (shape: number[]): T64 => randn64(shape, seed + 99)
  const cpu = await gradsOn('cpu', f, args, cot)
  const wasm = await gradsOn('wasm', f, args, cot)
  for (const [i, g] of wasm.entries()) {
    expect(relDiff(g, cpu[i]!), `arg ${i}: wasm vs cpu`).toBeLessThanOrEqual(1e-5)
    const w = cot([...f64(...args).shape])
    const v = randn64(args[i]!.shape, seed + i)
    const loss = (t: T64): number => dot(f64(...args.map((a, j) => (j === i ? t : a))).data, w.data)
    const fd = centralDiff(loss, args[i]!, v, 1e-6)
    expect(Math.abs(dot(g, v.data) - fd), `arg ${i}: wasm vs finite difference ${fd}`).toBeLessThanOrEqual(1e-4 * absDot(g, v.data) + 1e-9)
  }
}

describe('wasm kernels', () => {
  it('are registered', () => {
    expect([...installedWasmKernels()].sort()).toEqual(
      ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'MaxPoolGrad', 'Mean', 'Sum'].sort(),
    )
  })

  const convCases: ReadonlyArray<{ x: number[]; k: number; co: number; s: [number, number]; p: P2 }> = [
    { x: [2, 7, 7, 3], k: 3, co: 4, s: [1, 1], p: [[1, 1], [1, 1]] },
    { x: [2, 8, 8, 3], k: 3, co: 4, s: [2, 2], p: [[1, 1], [1, 1]] },
    { x: [1, 9, 7, 2], k: 3, co: 5, s: [2, 2], p: [[0, 1], [2, 0]] },
    { x: [2, 6, 6, 4], k: 1, co: 3, s: [2, 2], p: [[0, 0], [0, 0]] },
    { x: [1, 8, 8, 3], k: 4, co: 2, s: [4, 4], p: [[0, 0], [0, 0]] },
    { x: [1, 9, 9, 2], k: 5, co: 3, s: [2, 1], p: [[2, 1], [0, 2]] },
  ]
  for (const [ci, c] of convCases.entries()) {
    it(`conv2d dX/dW: x ${c.x} k${c.k} s${c.s} pads ${JSON.stringify(c.p)}`, async () => {
      const x = randn64(c.x, 10 + ci), w = randn64([c.k, c.k, c.x[3]!, c.co], 20 + ci)
      await checkGrads((a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, explicit(c.p)), (a, b) => conv64(a, b, c.s, c.p), [x, w], 30 + ci)
    })
  }

  const dwCases: ReadonlyArray<{ x: number[]; k: number; m: number; s: [number, number]; p: P2 }> = [
    { x: [2, 7, 7, 3], k: 3, m: 1, s: [1, 1], p: [[1, 1], [1, 1]] },
    { x: [2, 8, 8, 3], k: 3, m: 2, s: [2, 2], p: [[1, 1], [1, 1]] },
    { x: [1, 9, 8, 2], k: 7, m: 1, s: [1, 1], p: [[3, 3], [3, 3]] },
    { x: [1, 7, 9, 2], k: 3, m: 2, s: [2, 2], p: [[0, 1], [1, 0]] },
  ]
  for (const [ci, c] of dwCases.entries()) {
    it(`depthwise dX/dW: x ${c.x} k${c.k} m${c.m} s${c.s} pads ${JSON.stringify(c.p)}`, async () => {
      const x = randn64(c.x, 40 + ci), w = randn64([c.k, c.k, c.x[3]!, c.m], 50 + ci)
      const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.depthwiseConv2d(tf.pad(a, explicit(c.p)) as tf.Tensor4D, b as tf.Tensor4D, c.s, 'valid')
      await checkGrads(f, (a, b) => conv64(a, b, c.s, c.p, true), [x, w], 60 + ci)
    })
  }

  const tCases: ReadonlyArray<{ x: number[]; k: number; co: number; s: [number, number] }> = [
    { x: [2, 4, 4, 3], k: 4, co: 2, s: [2, 2] },
    { x: [1, 5, 4, 2], k: 3, co: 3, s: [2, 2] },
    { x: [1, 3, 3, 2], k: 2, co: 2, s: [2, 2] },
  ]
  for (const [ci, c] of tCases.entries()) {
    it(`conv2dTranspose (Conv2DBackpropInput as forward) and its grads: x ${c.x} k${c.k} s${c.s}`, async () => {
      const x = randn64(c.x, 70 + ci), w = randn64([c.k, c.k, c.co, c.x[3]!], 80 + ci)
      const full = (t: tf.Tensor): [number, number, number, number] => [t.shape[0]!, (t.shape[1]! - 1) * c.s[0] + c.k, (t.shape[2]! - 1) * c.s[1] + c.k, c.co]
      const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, full(a), c.s, 'valid')
      await tf.setBackend('wasm')
      const y = tf.tidy(() => f(f32(x), f32(w)).dataSync() as Float32Array)
      const ref = convT64(x, w, c.s)
      const scale = Math.max(...Array.from(ref.data, Math.abs))
      // float32 forward of ≤ 50-term sums vs float64: 1e-5 relative to the largest output.
      expect(Math.max(...Array.from(y, (v, i) => Math.abs(v - ref.data[i]!))) / scale).toBeLessThanOrEqual(1e-5)
      await checkGrads(f, (a, b) => convT64(a, b, c.s), [x, w], 90 + ci)
    })
  }

  const poolCases: ReadonlyArray<{ x: number[]; k: [number, number]; s: [number, number]; pad: 'same' | 'valid'; sign: 'negative' | 'mixed' }> = [
    { x: [2, 7, 7, 3], k: [3, 3], s: [2, 2], pad: 'same', sign: 'negative' },
    { x: [2, 8, 8, 3], k: [3, 3], s: [2, 2], pad: 'same', sign: 'negative' },
    { x: [1, 8, 6, 2], k: [2, 2], s: [2, 2], pad: 'valid', sign: 'negative' },
    { x: [2, 9, 9, 2], k: [3, 3], s: [1, 1], pad: 'same', sign: 'mixed' },
    { x: [1, 7, 8, 2], k: [3, 2], s: [2, 1], pad: 'valid', sign: 'mixed' },
  ]
  for (const [ci, c] of poolCases.entries()) {
    it(`maxPool grad (${c.sign} inputs): x ${c.x} k${c.k} s${c.s} ${c.pad}`, async () => {
      const r = randn64(c.x, 100 + ci)
      const x: T64 = { shape: r.shape, data: c.sign === 'negative' ? r.data.map((v) => -Math.abs(v) - 0.1) : r.data }
      const info = tf.backend_util.computePool2DInfo(c.x as [number, number, number, number], c.k, c.s, 1, c.pad)
      const p: P2 = [[info.padInfo.top, info.padInfo.bottom], [info.padInfo.left, info.padInfo.right]]
      await checkGrads((a) => tf.maxPool(a as tf.Tensor4D, c.k, c.s, c.pad), (a) => maxPool64(a, c.k, c.s, p), [x], 110 + ci)
    })
  }
})
