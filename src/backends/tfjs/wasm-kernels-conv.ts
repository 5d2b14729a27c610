// Convolution gradients for tfjs-wasm 4.22 written as forward (XNNPACK-backed) convolutions. wasm lacks
// Conv2DBackpropFilter and both depthwise backprops, and its Conv2DBackpropInput (also the forward pass of
// conv2dTranspose) is a naive loop ~11x slower than a conv. No round trip through the cpu backend.
//
// Index algebra (NHWC, stride s, top/left padding p, kernel k, dilation 1; one spatial axis shown):
//   forward   y[o] = Σ_i x[o·s + i − p] · w[i]                               (x is 0 outside [0, H))
//   dX        dx[r] = Σ_{o,i: o·s+i−p = r} dy[o] · w[i]. Let u = dy with s−1 zeros inserted after every
//             sample (u[o·s] = dy[o]); then dx[r] = Σ_i u[r + p − i] · w[i]. Substituting i' = k−1−i:
//             dx[r] = Σ_i' u[r − (k−1−p) + i'] · w[k−1−i'], a stride-1 'valid' correlation of u padded by
//             k−1−p in front with the spatially flipped filter whose in/out channels are swapped. The padded
//             length must be H + k − 1, so the tail pad is H + k − 1 − (k−1−p) − len(u) (negative = crop).
//   dW        dw[i] = Σ_{n,o} xp[n, o·s + i] · dy[n, o] with xp = x padded by p in front. Read the batch n as
//             the channel and the input channel ci as the batch: X'[ci, r, n] = xp[n, r, ci] and the
//             "filter" F[o, n, co] = dy[n, o, co]; then dw[i] = Σ_o X'[i + o·s] F[o] is a stride-1 conv of X'
//             with F at dilation s. Its output length is len(xp) − (OH−1)·s, so xp is padded/cropped to
//             k + (OH−1)·s. Transposes: X' = xp^[3,1,2,0], F = dy^[1,2,0,3], dW = out^[1,2,0,3].
//   depthwise (filter (k,k,C,M), output channel c·M+m): dX is the same with a depthwise conv over the C·M
//             channels of u (filter reshaped to (k,k,C·M,1)), then a sum over m. dW folds the batch into
//             channels: X' = xp^[1,2,0,3] reshaped (1, Hp, Wp, N·C), F = dy^[1,2,0,3] reshaped (OH, OW, N·C, M),
//             depthwise at dilation s gives (1, k, k, N·C·M), reshaped (k, k, N, C, M) and summed over N.

import { tf } from './tf.js'
import type { KernelBody } from './kernel-util.js'
import { need, padOrCrop, zeroInsert } from './kernel-util.js'

type Rounding = 'floor' | 'round' | 'ceil' | undefined
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding
type Shape4 = [number, number, number, number]

interface ConvAttrs {
  readonly strides: [number, number] | number
  readonly pad: Pad
  readonly dimRoundingMode?: Rounding
  readonly dilations?: [number, number] | number
  readonly dataFormat?: 'NHWC' | 'NCHW'
}

const pair = (v: unknown, what: string): [number, number] | number => {
  if (typeof v === 'number') return v
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') return [v[0], v[1]]
  throw new Error(`bad ${what} attribute`)
}

const rounding = (v: unknown): Rounding => (v === 'floor' ? 'floor' : v === 'round' ? 'round' : v === 'ceil' ? 'ceil' : undefined)

/** Reads the conv attributes tfjs passes to its conv-gradient kernels (checked at run time). */
export const convAttrs = (a: tf.NamedAttrMap): ConvAttrs => {
  const pad = a['pad']
  const padOk = pad === 'valid' || pad === 'same' || typeof pad === 'number' || Array.isArray(pad)
  if (!padOk) throw new Error('bad pad attribute')
  const r = rounding(a['dimRoundingMode'])
  const df = a['dataFormat'] === 'NCHW' ? 'NCHW' : 'NHWC'
  return {
    strides: pair(a['strides'], 'strides'),
    pad: pad as Pad,
    ...(r === undefined ? {} : { dimRoundingMode: r }),
    ...(a['dilations'] === undefined ? {} : { dilations: pair(a['dilations'], 'dilations') }),
    dataFormat: df,
  }
}

const info = (a: ConvAttrs, xShape: Shape4, wShape: Shape4, depthwise: boolean): tf.backend_util.Conv2DInfo => {
  if (a.dataFormat === 'NCHW') throw new Error('sparkts wasm conv gradients support NHWC only')
  const ci = tf.backend_util.computeConv2DInfo(xShape, wShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise)
  if (ci.dilationHeight !== 1 || ci.dilationWidth !== 1) throw new Error('dilation rates greater than 1 are not supported in conv gradients')
  return ci
}

const shape4 = (v: unknown, what: string): Shape4 => {
  if (!Array.isArray(v) || v.length !== 4) throw new Error(`bad ${what} attribute`)
  const [a, b, c, d]: unknown[] = v
  if (typeof a !== 'number' || typeof b !== 'number' || typeof c !== 'number' || typeof d !== 'number') throw new Error(`bad ${what} attribute`)
  return [a, b, c, d]
}

/** Pads u (zero-inserted dy) so that a stride-1 'valid' k×k correlation yields the input size. */
const padForInputGrad = (u: tf.Tensor4D, c: tf.backend_util.Conv2DInfo): tf.Tensor4D => {
  const top = c.filterHeight - 1 - c.padInfo.top
  const left = c.filterWidth - 1 - c.padInfo.left
  const bottom = c.inHeight + c.filterHeight - 1 - top - u.shape[1]
  const right = c.inWidth + c.filterWidth - 1 - left - u.shape[2]
  return padOrCrop(u, [[top, bottom], [left, right]])
}

/** Pads x to exactly k + (OH−1)·s rows (cols), starting p before it. */
const padForFilterGrad = (x: tf.Tensor4D, c: tf.backend_util.Conv2DInfo): tf.Tensor4D => {
  const hp = c.filterHeight + (c.outHeight - 1) * c.strideHeight
  const wp = c.filterWidth + (c.outWidth - 1) * c.strideWidth
  return padOrCrop(x, [[c.padInfo.top, hp - c.padInfo.top - c.inHeight], [c.padInfo.left, wp - c.padInfo.left - c.inWidth]])
}

/** Conv2DBackpropInput: inputs {dy, filter}; attrs strides, pad, inputShape. */
export const conv2dBackpropInput: KernelBody = (ins, attrs) => {
  const a = convAttrs(attrs)
  const dy = need(ins, 'dy'), w = need(ins, 'filter')
  const c = info(a, shape4(attrs['inputShape'], 'inputShape'), w.shape, false)
  const u = padForInputGrad(zeroInsert(dy, c.strideHeight, c.strideWidth), c)
  const wf = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2])
  return tf.conv2d(u, wf, 1, 'valid')
}

/** Conv2DBackpropFilter: inputs {x, dy}; attrs strides, pad, filterShape. */
export const conv2dBackpropFilter: KernelBody = (ins, attrs) => {
  const a = convAttrs(attrs)
  const x = need(ins, 'x'), dy = need(ins, 'dy')
  const c = info(a, x.shape, shape4(attrs['filterShape'], 'filterShape'), false)
  const xt = tf.transpose(padForFilterGrad(x, c), [3, 1, 2, 0])
  const f = tf.transpose(dy, [1, 2, 0, 3])
  return tf.transpose(tf.conv2d(xt, f, 1, 'valid', 'NHWC', [c.strideHeight, c.strideWidth]), [1, 2, 0, 3])
}

/** DepthwiseConv2dNativeBackpropInput: inputs {dy, filter}; attrs strides, dilations, pad, inputShape. */
export const depthwiseBackpropInput: KernelBody = (ins, attrs) => {
  const a = convAttrs(attrs)
  const dy = need(ins, 'dy'), w = need(ins, 'filter')
  const c = info(a, shape4(attrs['inputShape'], 'inputShape'), w.shape, true)
  const [kh, kw, ch, m] = w.shape
  const u = padForInputGrad(zeroInsert(dy, c.strideHeight, c.strideWidth), c)
  const wf = tf.reshape(tf.reverse(w, [0, 1]), [kh, kw, ch * m, 1])
  const r = tf.depthwiseConv2d(u, wf as tf.Tensor4D, 1, 'valid')
  return m === 1 ? r : tf.sum(tf.reshape(r, [r.shape[0], r.shape[1], r.shape[2], ch, m]), 4)
}

/** DepthwiseConv2dNativeBackpropFilter: inputs {x, dy}; attrs strides, dilations, pad, filterShape. */
export const depthwiseBackpropFilter: KernelBody = (ins, attrs) => {
  const a = convAttrs(attrs)
  const x = need(ins, 'x'), dy = need(ins, 'dy')
  const fs = shape4(attrs['filterShape'], 'filterShape')
  const c = info(a, x.shape, fs, true)
  const [kh, kw, ch, m] = fs
  const n = x.shape[0]
  const xp = padForFilterGrad(x, c)
  const xt = tf.reshape(tf.transpose(xp, [1, 2, 0, 3]), [1, xp.shape[1], xp.shape[2], n * ch])
  const f = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [dy.shape[1], dy.shape[2], n * ch, m])
  const out = tf.depthwiseConv2d(xt as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid', 'NHWC', [c.strideHeight, c.strideWidth])
  return tf.sum(tf.reshape(out, [kh, kw, n, ch, m]), 2)
}
