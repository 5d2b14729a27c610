// Reference normalisation kernels on channels-last data. Each computes its statistics in two plain
// passes (mean, then biased variance Σ(x−mean)²/count) in float64, then applies
// y = (x − mean)/sqrt(var + eps) · gamma + beta. Channel c of flat element e is e mod C (NHWC / last axis).

import { dim, f64, get } from './tensor.js'
import type { F64Tensor } from './tensor.js'
import type { RefKernel } from './kernels-types.js'
import { input } from './kernels-types.js'

/** Per-channel mean and biased variance over every axis but the last. */
const channelStats = (x: F64Tensor): { mean: Float64Array; variance: Float64Array } => {
  const C = dim(x.shape, -1)
  const count = x.data.length / C
  const mean = new Float64Array(C)
  const variance = new Float64Array(C)
  for (let e = 0; e < x.data.length; e++) mean[e % C] = get(mean, e % C) + get(x.data, e) / count
  for (let e = 0; e < x.data.length; e++) {
    const d = get(x.data, e) - get(mean, e % C)
    variance[e % C] = get(variance, e % C) + (d * d) / count
  }
  return { mean, variance }
}

/** batchNorm [x, gamma, beta, runningMean, runningVar]: training uses the batch statistics over all axes
 *  but the last (biased variance, as PyTorch normalises with), inference the running statistics. */
export const batchNorm: RefKernel<'batchNorm'> = (n, ins, outType) => {
  const x = input(ins, 0, 'batchNorm')
  const gamma = input(ins, 1, 'batchNorm')
  const beta = input(ins, 2, 'batchNorm')
  const { mean, variance } = n.params.training
    ? channelStats(x)
    : { mean: input(ins, 3, 'batchNorm').data, variance: input(ins, 4, 'batchNorm').data }
  const C = dim(x.shape, -1)
  const out = f64(outType)
  for (let e = 0; e < x.data.length; e++) {
    const c = e % C
    out.data[e] = ((get(x.data, e) - get(mean, c)) / Math.sqrt(get(variance, c) + n.params.eps)) * get(gamma.data, c) + get(beta.data, c)
  }
  return out
}

/** layerNorm [x, gamma, beta]: statistics over the last axis of each position (biased variance). */
export const layerNorm: RefKernel<'layerNorm'> = (n, ins, outType) => {
  const x = input(ins, 0, 'layerNorm')
  const gamma = input(ins, 1, 'layerNorm')
  const beta = input(ins, 2, 'layerNorm')
  const C = dim(x.shape, -1)
  const out = f64(outType)
  for (let r = 0; r < x.data.length / C; r++) {
    let mean = 0
    for (let c = 0; c < C; c++) mean += get(x.data, r * C + c) / C
    let variance = 0
    for (let c = 0; c < C; c++) variance += (get(x.data, r * C + c) - mean) ** 2 / C
    const inv = 1 / Math.sqrt(variance + n.params.eps)
    for (let c = 0; c < C; c++) out.data[r * C + c] = (get(x.data, r * C + c) - mean) * inv * get(gamma.data, c) + get(beta.data, c)
  }
  return out
}

/** groupNorm [x NHWC, gamma, beta]: per sample and group, statistics over (C/G channels × H × W). */
export const groupNorm: RefKernel<'groupNorm'> = (n, ins, outType) => {
  const x = input(ins, 0, 'groupNorm')
  const gamma = input(ins, 1, 'groupNorm')
  const beta = input(ins, 2, 'groupNorm')
  const [N, C] = [dim(x.shape, 0), dim(x.shape, -1)]
  const HW = x.data.length / (N * C)
  const G = n.params.groups
  const cg = C / G
  const count = cg * HW
  const out = f64(outType)
  for (let b = 0; b < N; b++)
    for (let g = 0; g < G; g++) {
      const at = (p: number, k: number): number => (b * HW + p) * C + g * cg + k
      let mean = 0
      for (let p = 0; p < HW; p++) for (let k = 0; k < cg; k++) mean += get(x.data, at(p, k)) / count
      let variance = 0
      for (let p = 0; p < HW; p++) for (let k = 0; k < cg; k++) variance += (get(x.data, at(p, k)) - mean) ** 2 / count
      const inv = 1 / Math.sqrt(variance + n.params.eps)
      for (let p = 0; p < HW; p++)
        for (let k = 0; k < cg; k++) {
          const c = g * cg + k
          out.data[at(p, k)] = (get(x.data, at(p, k)) - mean) * inv * get(gamma.data, c) + get(beta.data, c)
        }
    }
  return out
}

/** grn [x NHWC, gamma, beta] (ConvNeXt-V2, dense): Gx[n,c] = sqrt(Σ_hw x²), Nx = Gx / (mean_c Gx + eps),
 *  y = gamma · (x · Nx) + beta + x. */
export const grn: RefKernel<'grn'> = (n, ins, outType) => {
  const x = input(ins, 0, 'grn')
  const gamma = input(ins, 1, 'grn')
  const beta = input(ins, 2, 'grn')
  const [N, C] = [dim(x.shape, 0), dim(x.shape, -1)]
  const HW = x.data.length / (N * C)
  const out = f64(outType)
  for (let b = 0; b < N; b++) {
    const gx = new Float64Array(C)
    for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) gx[c] = get(gx, c) + get(x.data, (b * HW + p) * C + c) ** 2
    for (let c = 0; c < C; c++) gx[c] = Math.sqrt(get(gx, c))
    let meanG = 0
    for (let c = 0; c < C; c++) meanG += get(gx, c) / C
    for (let p = 0; p < HW; p++)
      for (let c = 0; c < C; c++) {
        const e = (b * HW + p) * C + c
        const xv = get(x.data, e)
        out.data[e] = get(gamma.data, c) * (xv * (get(gx, c) / (meanG + n.params.eps))) + get(beta.data, c) + xv
      }
  }
  return out
}
