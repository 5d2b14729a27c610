// Lowering of conv2d / conv2dTranspose (PyTorch semantics) to tfjs. groups = 1 → tf.fused.conv2d with the
// explicit-padding form and a fused bias; groups = cin with a (kh,kw,1,cout) weight → depthwiseConv2d with
// the weight viewed as (kh,kw,cin,cout/cin); other groups → split / per-group conv / concat.
// tfjs throws "dilation rates greater than 1 are not yet supported in gradients" on every backend, so a
// dilated (stride-1) conv gets its own gradient through tf.customGrad, written as forward convs
// (same algebra as wasm-kernels-conv.ts, with dilation d on one axis; xp = x padded, 'valid' conv):
//   dX = conv(dy padded by d·(k−1) on both sides, flipped in/out-swapped filter, dilation d)
//   dW = conv(xp^[3,1,2,0], dy^[1,2,0,3], strides d)^[1,2,0,3]        (output height (Hp−OH)/d+1 = k)
// and the depthwise analogues (channels folded as in wasm-kernels-conv.ts).
// conv2dTranspose = tf.conv2dTranspose 'valid' to the full (H−1)·s+k size, then crop p top/left and
// p − outputPadding bottom/right (a negative crop pads with zeros).

import * as E from 'fp-ts/lib/Either.js'
import type { Node } from '../../ir/graph.js'
import type { Pair } from '../../ir/ops.js'
import { tf } from './tf.js'
import { padOrCrop } from './kernel-util.js'
import type { Lowered, ShapesOf } from './rules.js'

type T4 = tf.Tensor4D

const arg4 = (ins: ReadonlyArray<tf.Tensor>, i: number): T4 => {
  const t = ins[i]
  if (t === undefined || t.rank !== 4) throw new Error(`lowering: input ${i} missing or not rank 4`)
  return t as T4
}

const addBias = (y: T4, b: tf.Tensor | undefined): T4 => (b === undefined ? y : tf.add(y, b))

/** Gradients of a stride-1 dilated 'valid' conv (regular or depthwise with multiplier m). */
const dilatedGrads = (xp: T4, w: T4, dy: T4, d: Pair, depthwise: boolean): [T4, T4] => {
  const [kh, kw, a, b] = w.shape
  const dyp = tf.pad(dy, [[0, 0], [d[0] * (kh - 1), d[0] * (kh - 1)], [d[1] * (kw - 1), d[1] * (kw - 1)], [0, 0]])
  const [n, hp, wp, c] = xp.shape
  const [oh, ow] = [dy.shape[1], dy.shape[2]]
  if (!depthwise) {
    const dx = tf.conv2d(dyp, tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]), 1, 'valid', 'NHWC', [d[0], d[1]])
    const dw = tf.transpose(tf.conv2d(tf.transpose(xp, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), [d[0], d[1]], 'valid'), [1, 2, 0, 3])
    return [dx, dw]
  }
  const m = b
  const r = tf.depthwiseConv2d(dyp, tf.reshape(tf.reverse(w, [0, 1]), [kh, kw, a * m, 1]) as T4, 1, 'valid', 'NHWC', [d[0], d[1]])
  const dx = m === 1 ? r : tf.sum(tf.reshape(r, [n, hp, wp, c, m]), 4)
  const xt = tf.reshape(tf.transpose(xp, [1, 2, 0, 3]), [1, hp, wp, n * c])
  const f = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [oh, ow, n * c, m])
  const dw = tf.sum(tf.reshape(tf.depthwiseConv2d(xt as T4, f as T4, [d[0], d[1]], 'valid'), [kh, kw, n, c, m]), 2)
  return [dx as T4, dw as T4]
}

/** A stride-1 dilated 'valid' conv with a correct gradient. */
const dilatedConv = (d: Pair, depthwise: boolean): ((xp: T4, w: T4) => T4) => {
  const fwd = (xp: T4, w: T4): T4 =>
    depthwise ? tf.depthwiseConv2d(xp, w, 1, 'valid', 'NHWC', [d[0], d[1]]) : tf.conv2d(xp, w, 1, 'valid', 'NHWC', [d[0], d[1]])
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xp, w, save] = args
    if (!(xp instanceof tf.Tensor) || !(w instanceof tf.Tensor) || typeof save !== 'function') throw new Error('dilatedConv: bad arguments')
    save([xp, w])
    return {
      value: fwd(xp as T4, w as T4),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => dilatedGrads(saved[0] as T4, saved[1] as T4, dy as T4, d, depthwise),
    }
  })
  return (xp, w) => f(xp, w) as T4
}

/** Rows and columns 0, s, 2s, … of y (pad to a multiple of s, fold the stride into its own axis, slice). */
const subsample = (y: T4, [sh, sw]: [number, number]): T4 => {
  if (sh === 1 && sw === 1) return y
  const [b, h, w, c] = y.shape
  const [ho, wo] = [Math.floor((h - 1) / sh) + 1, Math.floor((w - 1) / sw) + 1]
  const padded = tf.pad(y, [[0, 0], [0, ho * sh - h], [0, wo * sw - w], [0, 0]])
  return tf.reshape(tf.slice(tf.reshape(padded, [b, ho, sh, wo, sw, c]), [0, 0, 0, 0, 0, 0], [b, ho, 1, wo, 1, c]), [b, ho, wo, c])
}

/** Lowering of conv2d. */
export const conv2dRule = (n: Node<'conv2d'>, s: ShapesOf): E.Either<string, Lowered> => {
  const { strides, padding, dilations, groups } = n.params
  const [, , , cin] = s.ins[0] as [number, number, number, number]
  const [kh, kw, wci, cout] = s.ins[1] as [number, number, number, number]
  const dilated = dilations[0] > 1 || dilations[1] > 1
  const pads: tf.backend_util.ExplicitPadding = [[0, 0], [padding[0][0], padding[0][1]], [padding[1][0], padding[1][1]], [0, 0]]
  const st: [number, number] = [strides[0], strides[1]]
  const depthwise = groups > 1 && groups === cin && wci === 1
  const dconv = dilated ? dilatedConv(dilations, depthwise) : undefined
  const one = (x: T4, w: T4, b: tf.Tensor | undefined): T4 => {
    // tfjs has no strided dilated conv: run it at stride 1 and keep every s-th row and column.
    if (dconv !== undefined) return addBias(subsample(dconv(tf.pad(x, pads), depthwise ? tf.reshape(w, [kh, kw, cin, cout / cin]) : w), st), b)
    if (depthwise) {
      const f = tf.reshape(w, [kh, kw, cin, cout / cin]) as T4
      return tf.fused.depthwiseConv2d({ x: tf.pad(x, pads), filter: f, strides: st, pad: 'valid', ...(b === undefined ? {} : { bias: b }) })
    }
    return tf.fused.conv2d({ x, filter: w, strides: st, pad: pads, ...(b === undefined ? {} : { bias: b }) })
  }
  if (groups === 1 || depthwise) return E.right({ fn: (ins) => one(arg4(ins, 0), arg4(ins, 1), ins[2]) })
  return E.right({
    fn: (ins) => {
      const xs = tf.split(arg4(ins, 0), groups, 3) as T4[]
      const ws = tf.split(arg4(ins, 1), groups, 3) as T4[]
      return addBias(tf.concat(xs.map((x, g) => one(x, ws[g] as T4, undefined)), 3), ins[2])
    },
  })
}

/** Lowering of conv2dTranspose (PyTorch ConvTranspose2d). */
export const conv2dTransposeRule = (n: Node<'conv2dTranspose'>, s: ShapesOf): E.Either<string, Lowered> => {
  const { strides, padding, outputPadding } = n.params
  const [b, h, w] = s.ins[0] as [number, number, number, number]
  const [kh, kw, cout] = s.ins[1] as [number, number, number, number]
  const full: [number, number, number, number] = [b, (h - 1) * strides[0] + kh, (w - 1) * strides[1] + kw, cout]
  const crop: [[number, number], [number, number]] = [
    [-padding[0], -(padding[0] - outputPadding[0])],
    [-padding[1], -(padding[1] - outputPadding[1])],
  ]
  return E.right({
    fn: (ins) => {
      const y = tf.conv2dTranspose(arg4(ins, 0), arg4(ins, 1), full, [strides[0], strides[1]], 'valid')
      return addBias(padOrCrop(y, crop), ins[2])
    },
  })
}
