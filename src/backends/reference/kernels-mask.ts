// Reference kernels of the SparK mask ops (NHWC, mask m (B,H,W,1) at x's resolution, 1 = active). The
// masked statistics are written as m-weighted sums, Σ m·x / Σ m and Σ m·(x − mean)² / Σ m, which for a
// 0/1 mask are exactly the mean and biased variance of the gathered active set (test/spark checks this
// against a literal gather) and keep the kernels smooth in m for finite-difference gradient checks.
// A set without any active position has mean 0 and variance 0 (its outputs are all masked anyway).

import { dim, f64, get } from './tensor.js'
import type { RefKernel } from './kernels-types.js'
import { input } from './kernels-types.js'

const ratio = (s: number, count: number): number => (count > 0 ? s / count : 0)

/** maskLike [mask (B,h,w,1), x (B,H,W,C)]: out[b,i,j,0] = mask[b, ⌊i/(H/h)⌋, ⌊j/(W/w)⌋, 0]. */
export const maskLike: RefKernel<'maskLike'> = (_n, ins, outType) => {
  const mask = input(ins, 0, 'maskLike')
  const [B, H, W] = [dim(outType, 0), dim(outType, 1), dim(outType, 2)]
  const [h, w] = [dim(mask.shape, 1), dim(mask.shape, 2)]
  const [rh, rw] = [H / h, W / w]
  const out = f64(outType)
  for (let b = 0; b < B; b++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++) out.data[(b * H + i) * W + j] = get(mask.data, (b * h + Math.floor(i / rh)) * w + Math.floor(j / rw))
  return out
}

/** maskedBatchNorm [x, m, gamma, beta, runningMean, runningVar]: y = m · ((x − μ)/√(σ² + eps) · γ + β), with
 *  (μ, σ²) the m-weighted batch statistics over every position of every sample (training) or the running ones. */
export const maskedBatchNorm: RefKernel<'maskedBatchNorm'> = (n, ins, outType) => {
  const x = input(ins, 0, 'maskedBatchNorm')
  const m = input(ins, 1, 'maskedBatchNorm')
  const gamma = input(ins, 2, 'maskedBatchNorm')
  const beta = input(ins, 3, 'maskedBatchNorm')
  const C = dim(x.shape, -1)
  const P = x.data.length / C
  let mean: ArrayLike<number> = input(ins, 4, 'maskedBatchNorm').data
  let variance: ArrayLike<number> = input(ins, 5, 'maskedBatchNorm').data
  if (n.params.training) {
    let count = 0
    for (let p = 0; p < P; p++) count += get(m.data, p)
    const mu = new Float64Array(C)
    const v = new Float64Array(C)
    for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) mu[c] = get(mu, c) + get(m.data, p) * get(x.data, p * C + c)
    for (let c = 0; c < C; c++) mu[c] = ratio(get(mu, c), count)
    for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) v[c] = get(v, c) + get(m.data, p) * (get(x.data, p * C + c) - get(mu, c)) ** 2
    for (let c = 0; c < C; c++) v[c] = ratio(get(v, c), count)
    mean = mu
    variance = v
  }
  const out = f64(outType)
  for (let p = 0; p < P; p++)
    for (let c = 0; c < C; c++) {
      const y = ((get(x.data, p * C + c) - (mean[c] ?? NaN)) / Math.sqrt((variance[c] ?? NaN) + n.params.eps)) * get(gamma.data, c) + get(beta.data, c)
      out.data[p * C + c] = get(m.data, p) * y
    }
  return out
}

/** maskedGroupNorm [x, m, gamma, beta]: per sample b and group g, m-weighted statistics over (C/G channels × H × W). */
export const maskedGroupNorm: RefKernel<'maskedGroupNorm'> = (n, ins, outType) => {
  const x = input(ins, 0, 'maskedGroupNorm')
  const m = input(ins, 1, 'maskedGroupNorm')
  const gamma = input(ins, 2, 'maskedGroupNorm')
  const beta = input(ins, 3, 'maskedGroupNorm')
  const [N, C] = [dim(x.shape, 0), dim(x.shape, -1)]
  const HW = x.data.length / (N * C)
  const G = n.params.groups
  const cg = C / G
  const out = f64(outType)
  for (let b = 0; b < N; b++) {
    let active = 0
    for (let p = 0; p < HW; p++) active += get(m.data, b * HW + p)
    const count = active * cg
    for (let g = 0; g < G; g++) {
      const at = (p: number, k: number): number => (b * HW + p) * C + g * cg + k
      let s = 0
      for (let p = 0; p < HW; p++) for (let k = 0; k < cg; k++) s += get(m.data, b * HW + p) * get(x.data, at(p, k))
      const mean = ratio(s, count)
      let sq = 0
      for (let p = 0; p < HW; p++) for (let k = 0; k < cg; k++) sq += get(m.data, b * HW + p) * (get(x.data, at(p, k)) - mean) ** 2
      const inv = 1 / Math.sqrt(ratio(sq, count) + n.params.eps)
      for (let p = 0; p < HW; p++)
        for (let k = 0; k < cg; k++) {
          const c = g * cg + k
          out.data[at(p, k)] = get(m.data, b * HW + p) * ((get(x.data, at(p, k)) - mean) * inv * get(gamma.data, c) + get(beta.data, c))
        }
    }
  }
  return out
}

/** maskedGlobalAvgPool [x, m] → (B, C): Σ_p m·x / Σ_p m per sample and channel. */
export const maskedGlobalAvgPool: RefKernel<'maskedGlobalAvgPool'> = (_n, ins, outType) => {
  const x = input(ins, 0, 'maskedGlobalAvgPool')
  const m = input(ins, 1, 'maskedGlobalAvgPool')
  const [N, C] = [dim(x.shape, 0), dim(x.shape, 3)]
  const HW = dim(x.shape, 1) * dim(x.shape, 2)
  const out = f64(outType)
  for (let b = 0; b < N; b++) {
    let count = 0
    for (let p = 0; p < HW; p++) count += get(m.data, b * HW + p)
    for (let c = 0; c < C; c++) {
      let s = 0
      for (let p = 0; p < HW; p++) s += get(m.data, b * HW + p) * get(x.data, (b * HW + p) * C + c)
      out.data[b * C + c] = ratio(s, count)
    }
  }
  return out
}

/** maskFill [x, m, fill]: m·x + (1 − m)·fill[c]. */
export const maskFill: RefKernel<'maskFill'> = (_n, ins, outType) => {
  const x = input(ins, 0, 'maskFill')
  const m = input(ins, 1, 'maskFill')
  const fill = input(ins, 2, 'maskFill')
  const C = dim(x.shape, -1)
  const out = f64(outType)
  for (let e = 0; e < x.data.length; e++) {
    const mv = get(m.data, Math.floor(e / C))
    out.data[e] = mv * get(x.data, e) + (1 - mv) * get(fill.data, e % C)
  }
  return out
}
