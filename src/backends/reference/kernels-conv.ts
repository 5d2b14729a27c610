// Reference convolution and linear kernels: direct sums written exactly as the PyTorch definitions read,
// one output element at a time (conv2d, linear) or one input tap at a time (conv2dTranspose, the
// adjoint "scatter" form of PyTorch's ConvTranspose2d). Layouts: x NHWC, conv weight (kh,kw,cin/groups,cout),
// transposed-conv weight (kh,kw,cout,cin), linear weight (in,out). No im2col, no blocking: clarity first.

import { dim, f64, get } from './tensor.js'
import type { RefKernel } from './kernels-types.js'
import { input } from './kernels-types.js'

/** conv2d: out[n,oh,ow,co] = b[co] + Σ_{i,j,c'} x[n, oh·sh − top + i·dh, ow·sw − left + j·dw, g·cinG + c'] · w[i,j,c',co],
 *  with g = ⌊co / coutG⌋ the group of output channel co; taps falling in the zero padding contribute 0. */
export const conv2d: RefKernel<'conv2d'> = (n, ins, outType) => {
  const x = input(ins, 0, 'conv2d')
  const w = input(ins, 1, 'conv2d')
  const bias = ins[2]
  const { strides: [sh, sw], padding: [[top], [left]], dilations: [dh, dw], groups } = n.params
  const [N, H, W, C] = [dim(x.shape, 0), dim(x.shape, 1), dim(x.shape, 2), dim(x.shape, 3)]
  const [KH, KW, CING, COUT] = [dim(w.shape, 0), dim(w.shape, 1), dim(w.shape, 2), dim(w.shape, 3)]
  const [OH, OW] = [dim(outType, 1), dim(outType, 2)]
  const coutG = COUT / groups
  const out = f64(outType)
  for (let b = 0; b < N; b++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let co = 0; co < COUT; co++) {
          const g = Math.floor(co / coutG)
          let acc = bias === undefined ? 0 : get(bias.data, co)
          for (let i = 0; i < KH; i++) {
            const h = oh * sh - top + i * dh
            if (h < 0 || h >= H) continue
            for (let j = 0; j < KW; j++) {
              const ww = ow * sw - left + j * dw
              if (ww < 0 || ww >= W) continue
              for (let c = 0; c < CING; c++) {
                const xv = get(x.data, ((b * H + h) * W + ww) * C + g * CING + c)
                acc += xv * get(w.data, ((i * KW + j) * CING + c) * COUT + co)
              }
            }
          }
          out.data[((b * OH + oh) * OW + ow) * COUT + co] = acc
        }
  return out
}

/** conv2dTranspose (PyTorch ConvTranspose2d, dilation 1, groups 1): every input element x[n,ih,iw,ci]
 *  adds x · w[i,j,co,ci] to out[n, ih·sh − ph + i, iw·sw − pw + j, co] when that position is inside the
 *  output of size (H−1)·s − 2p + k + outputPadding (padding crops, outputPadding extends at the end). */
export const conv2dTranspose: RefKernel<'conv2dTranspose'> = (n, ins, outType) => {
  const x = input(ins, 0, 'conv2dTranspose')
  const w = input(ins, 1, 'conv2dTranspose')
  const bias = ins[2]
  const { strides: [sh, sw], padding: [ph, pw] } = n.params
  const [N, H, W, CIN] = [dim(x.shape, 0), dim(x.shape, 1), dim(x.shape, 2), dim(x.shape, 3)]
  const [KH, KW, COUT] = [dim(w.shape, 0), dim(w.shape, 1), dim(w.shape, 2)]
  const [OH, OW] = [dim(outType, 1), dim(outType, 2)]
  const out = f64(outType)
  for (let b = 0; b < N; b++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let co = 0; co < COUT; co++) out.data[((b * OH + oh) * OW + ow) * COUT + co] = bias === undefined ? 0 : get(bias.data, co)
  for (let b = 0; b < N; b++)
    for (let ih = 0; ih < H; ih++)
      for (let iw = 0; iw < W; iw++)
        for (let ci = 0; ci < CIN; ci++) {
          const xv = get(x.data, ((b * H + ih) * W + iw) * CIN + ci)
          for (let i = 0; i < KH; i++) {
            const oh = ih * sh - ph + i
            if (oh < 0 || oh >= OH) continue
            for (let j = 0; j < KW; j++) {
              const ow = iw * sw - pw + j
              if (ow < 0 || ow >= OW) continue
              for (let co = 0; co < COUT; co++) {
                const o = ((b * OH + oh) * OW + ow) * COUT + co
                out.data[o] = get(out.data, o) + xv * get(w.data, ((i * KW + j) * COUT + co) * CIN + ci)
              }
            }
          }
        }
  return out
}

/** linear: out[..., o] = b[o] + Σ_i x[..., i] · w[i, o] at every position of the leading axes. */
export const linear: RefKernel<'linear'> = (_n, ins, outType) => {
  const x = input(ins, 0, 'linear')
  const w = input(ins, 1, 'linear')
  const bias = ins[2]
  const [IN, OUT] = [dim(w.shape, 0), dim(w.shape, 1)]
  const rows = x.data.length / IN
  const out = f64(outType)
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < OUT; o++) {
      let acc = bias === undefined ? 0 : get(bias.data, o)
      for (let i = 0; i < IN; i++) acc += get(x.data, r * IN + i) * get(w.data, i * OUT + o)
      out.data[r * OUT + o] = acc
    }
  return out
}
