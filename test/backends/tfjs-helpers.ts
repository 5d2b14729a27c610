// Float64 host implementations (naive loops) of the ops whose tfjs kernels sparkts patches, for central
// finite differences in the tfjs backend tests, plus small seeded data helpers.

import { makeRng } from '../../src/util/rng.js'

/** A float64 NHWC tensor. */
export interface T64 {
  readonly shape: ReadonlyArray<number>
  readonly data: Float64Array
}

/** Seeded standard-normal data. */
export const randn64 = (shape: ReadonlyArray<number>, seed: number): T64 => {
  const r = makeRng(seed)
  return { shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()) }
}

/** Σ a·b. */
export const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0)
  return s
}

/** Σ |a·b| (the magnitude a float32 dot product's rounding error scales with). */
export const absDot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += Math.abs((a[i] ?? 0) * (b[i] ?? 0))
  return s
}

type P2 = readonly [readonly [number, number], readonly [number, number]]

/** conv2d (or depthwise with w (kh,kw,C,M)), strides s, explicit pads, dilation d; zero padding. */
export const conv64 = (x: T64, w: T64, s: readonly [number, number], p: P2, depthwise = false, d: readonly [number, number] = [1, 1]): T64 => {
  const [n, h, wd, c] = x.shape as [number, number, number, number]
  const [kh, kw, wi, wo] = w.shape as [number, number, number, number]
  const oh = Math.floor((h + p[0][0] + p[0][1] - d[0] * (kh - 1) - 1) / s[0]) + 1
  const ow = Math.floor((wd + p[1][0] + p[1][1] - d[1] * (kw - 1) - 1) / s[1]) + 1
  const co = depthwise ? c * wo : wo
  const out = new Float64Array(n * oh * ow * co)
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let z = 0; z < ow; z++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const r = y * s[0] + i * d[0] - p[0][0], q = z * s[1] + j * d[1] - p[1][0]
            if (r < 0 || r >= h || q < 0 || q >= wd) continue
            const xb = ((b * h + r) * wd + q) * c
            const ob = ((b * oh + y) * ow + z) * co
            if (depthwise) {
              for (let ci = 0; ci < c; ci++) for (let m = 0; m < wo; m++) out[ob + ci * wo + m]! += x.data[xb + ci]! * w.data[((i * kw + j) * wi + ci) * wo + m]!
            } else {
              for (let ci = 0; ci < c; ci++) for (let o = 0; o < wo; o++) out[ob + o]! += x.data[xb + ci]! * w.data[((i * kw + j) * wi + ci) * wo + o]!
            }
          }
  return { shape: [n, oh, ow, co], data: out }
}

/** tfjs conv2dTranspose 'valid' to the full (H−1)s+k size; w (kh,kw,cout,cin). */
export const convT64 = (x: T64, w: T64, s: readonly [number, number]): T64 => {
  const [n, h, wd, c] = x.shape as [number, number, number, number]
  const [kh, kw, co] = w.shape as [number, number, number, number]
  const oh = (h - 1) * s[0] + kh, ow = (wd - 1) * s[1] + kw
  const out = new Float64Array(n * oh * ow * co)
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let z = 0; z < wd; z++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++)
            for (let ci = 0; ci < c; ci++)
              for (let o = 0; o < co; o++)
                out[((b * oh + y * s[0] + i) * ow + z * s[1] + j) * co + o]! += x.data[((b * h + y) * wd + z) * c + ci]! * w.data[((i * kw + j) * co + o) * c + ci]!
  return { shape: [n, oh, ow, co], data: out }
}

/** maxPool with −∞ explicit padding. */
export const maxPool64 = (x: T64, k: readonly [number, number], s: readonly [number, number], p: P2): T64 => {
  const [n, h, wd, c] = x.shape as [number, number, number, number]
  const oh = Math.floor((h + p[0][0] + p[0][1] - k[0]) / s[0]) + 1
  const ow = Math.floor((wd + p[1][0] + p[1][1] - k[1]) / s[1]) + 1
  const out = new Float64Array(n * oh * ow * c).fill(-Infinity)
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let z = 0; z < ow; z++)
        for (let i = 0; i < k[0]; i++)
          for (let j = 0; j < k[1]; j++) {
            const r = y * s[0] + i - p[0][0], q = z * s[1] + j - p[1][0]
            if (r < 0 || r >= h || q < 0 || q >= wd) continue
            for (let ci = 0; ci < c; ci++) {
              const o = ((b * oh + y) * ow + z) * c + ci
              out[o] = Math.max(out[o]!, x.data[((b * h + r) * wd + q) * c + ci]!)
            }
          }
  return { shape: [n, oh, ow, c], data: out }
}

/** Central difference of t ↦ L(t) along v. */
export const centralDiff = (f: (t: T64) => number, t: T64, v: T64, h: number): number => {
  const shift = (sg: number): T64 => ({ shape: t.shape, data: t.data.map((a, i) => a + sg * h * v.data[i]!) })
  return (f(shift(1)) - f(shift(-1))) / (2 * h)
}
