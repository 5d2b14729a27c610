// The lowering table: one rule per op kind (a mapped type over OpKind, so a new op fails to compile until
// it is lowered). A rule runs at compile time with the node's concrete input/output shapes and returns
// either a reason it cannot lower the node or an `OpImpl` (tf ops on tensors) — JAX `register_lowering`
// style; per-backend tables override single entries (cpu.ts, wasm.ts). Formulations follow the probed
// behaviour of tfjs 4.22 (see /shared/docs/tfjs-backends.md): training batch norm as a fused custom-gradient
// op (rules-bn.ts), inference batch norm as broadcasting ops (tf.batchNorm's gradient tiles), avgPool as
// pad + 'valid' (tfjs's 'same' gradient is wrong), maxPool as −∞ pad + 'valid'.

import * as E from 'fp-ts/lib/Either.js'
import type { Node } from '../../ir/graph.js'
import type { OpKind, Padding } from '../../ir/ops.js'
import type { ConcreteShape } from '../../ir/types.js'
import { tf } from './tf.js'
import { conv2dRule, conv2dTransposeRule } from './rules-conv.js'
import { maskedPatchLoss } from './loss.js'
import { fusedTrainBatchNorm } from './rules-bn.js'
import { maskFillRule, maskLikeRule, maskedBatchNormRule, maskedGlobalAvgPoolRule, maskedGroupNormRule } from './rules-mask.js'

/** Batch statistics of a training-mode BatchNorm: per-channel mean and biased variance over `count` positions. */
export interface BatchStats {
  readonly mean: tf.Tensor
  readonly biasedVar: tf.Tensor
  /** Positions averaged over: B·H·W (dense) or Σm (masked; a scalar tensor). */
  readonly count: number | tf.Tensor
}

/** Per-run context (training randomness, batch-statistics sink). */
export interface RunCtx {
  /** A fresh seed for each stochastic node evaluation. */
  readonly nextSeed: () => number
  /** Called by training-mode batchNorm / maskedBatchNorm with the statistics they normalise with (the trainer updates running stats from them; they arrive already tf.kept: the hook owns and disposes them). */
  readonly onBatchStats?: (n: Node<'batchNorm' | 'maskedBatchNorm'>, stats: BatchStats) => void
}

/** What a node lowers to: tf ops over its input tensors. */
export type OpImpl = (ins: ReadonlyArray<tf.Tensor>, ctx: RunCtx) => tf.Tensor

/** A lowered node; `noGrad` says why vjp through it is unsupported. */
export interface Lowered {
  readonly fn: OpImpl
  readonly noGrad?: string
}

/** Concrete shapes a rule sees. */
export interface ShapesOf {
  readonly ins: ReadonlyArray<ConcreteShape>
  readonly out: ConcreteShape
}

/** A lowering rule: Left = why this node cannot be lowered. */
export type LowerRule<K extends OpKind> = (n: Node<K>, s: ShapesOf) => E.Either<string, Lowered>

/** The full table. */
export type LowerRules = { readonly [K in OpKind]: LowerRule<K> }

const ok = (fn: OpImpl): E.Either<string, Lowered> => E.right({ fn })
const arg = (ins: ReadonlyArray<tf.Tensor>, i: number): tf.Tensor => {
  const t = ins[i]
  if (t === undefined) throw new Error(`lowering: missing input ${i}`)
  return t
}
const x4 = (ins: ReadonlyArray<tf.Tensor>): tf.Tensor4D => arg(ins, 0) as tf.Tensor4D
const nhwcPad = (p: Padding): Array<[number, number]> => [[0, 0], [p[0][0], p[0][1]], [p[1][0], p[1][1]], [0, 0]]
const isZeroPad = (p: Padding): boolean => p.flat().every((v) => v === 0)

/** Normalises over `axes` (biased variance) then applies a per-channel affine. */
const normalise = (x: tf.Tensor, axes: number[], eps: number): tf.Tensor => {
  const { mean, variance } = tf.moments(x, axes, true)
  return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)))
}

/** √s with gradient 0 (not NaN/∞) at s = 0: an all-zero (masked) channel must not poison GRN's gradient. */
const safeSqrt = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [s, save] = args
  if (!(s instanceof tf.Tensor) || typeof save !== 'function') throw new Error('safeSqrt: bad arguments')
  save([s])
  return {
    value: tf.sqrt(s),
    gradFunc: (dy: tf.Tensor, [sv]: tf.Tensor[]) => {
      const t = sv as tf.Tensor
      const pos = tf.greater(t, 0)
      return tf.where(pos, tf.div(tf.mul(dy, 0.5), tf.sqrt(tf.where(pos, t, tf.onesLike(t)))), tf.zerosLike(t))
    },
  }
})

/** The default lowering of every op to tfjs. */
export const lowerRules: LowerRules = {
  input: () => E.left('graph inputs are bound by compile, not lowered'),
  param: () => E.left('parameters are uploaded by compile, not lowered'),
  conv2d: conv2dRule,
  conv2dTranspose: conv2dTransposeRule,
  batchNorm: (n) =>
    ok((ins, ctx) => {
      const [x, gamma, beta, rm, rv] = [0, 1, 2, 3, 4].map((i) => arg(ins, i)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]
      if (n.params.training) {
        const sink = ctx.onBatchStats
        return fusedTrainBatchNorm(x, undefined, gamma, beta, n.params.eps, sink === undefined ? undefined : (st) => sink(n, st))
      }
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(rv, n.params.eps)))
      return tf.add(tf.mul(x, scale), tf.sub(beta, tf.mul(rm, scale)))
    }),
  layerNorm: (n) => ok((ins) => tf.add(tf.mul(normalise(arg(ins, 0), [arg(ins, 0).rank - 1], n.params.eps), arg(ins, 1)), arg(ins, 2))),
  groupNorm: (n, s) => {
    const [b, h, w, c] = s.out as [number, number, number, number]
    const g = n.params.groups
    return ok((ins) => {
      const x = tf.reshape(arg(ins, 0), [b, h, w, g, c / g])
      return tf.add(tf.mul(tf.reshape(normalise(x, [1, 2, 4], n.params.eps), [b, h, w, c]), arg(ins, 1)), arg(ins, 2))
    })
  },
  grn: (n) =>
    ok((ins) => {
      const x = arg(ins, 0)
      const ss = tf.sum(tf.square(x), [1, 2], true)
      const gx = safeSqrt(ss)
      const nx = tf.div(gx, tf.add(tf.mean(gx, -1, true), n.params.eps))
      return tf.add(tf.add(tf.mul(arg(ins, 1), tf.mul(x, nx)), arg(ins, 2)), x)
    }),
  linear: (_n, s) =>
    ok((ins) => {
      const x = arg(ins, 0), w = arg(ins, 1) as tf.Tensor2D
      const cin = w.shape[0]
      const bias = ins[2]
      const y = tf.fused.matMul({ a: tf.reshape(x, [-1, cin]), b: w, ...(bias === undefined ? {} : { bias }) })
      return tf.reshape(y, [...s.out])
    }),
  relu: () => ok((ins) => tf.relu(arg(ins, 0))),
  relu6: () => ok((ins) => tf.relu6(arg(ins, 0))),
  gelu: () =>
    ok((ins) => {
      const x = arg(ins, 0)
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))
    }),
  silu: () => ok((ins) => tf.mul(arg(ins, 0), tf.sigmoid(arg(ins, 0)))),
  sigmoid: () => ok((ins) => tf.sigmoid(arg(ins, 0))),
  add: () => ok((ins) => tf.add(arg(ins, 0), arg(ins, 1))),
  mul: () => ok((ins) => tf.mul(arg(ins, 0), arg(ins, 1))),
  maxPool: (n) => {
    const { window, strides, padding } = n.params
    return ok((ins) => {
      const x = x4(ins)
      const xp = isZeroPad(padding) ? x : tf.pad(x, nhwcPad(padding), -Infinity)
      return tf.maxPool(xp, [window[0], window[1]], [strides[0], strides[1]], 'valid')
    })
  },
  avgPool: (n, s) => {
    const { window, strides, padding, countIncludePad } = n.params
    const [, h, w] = s.ins[0] as [number, number, number, number]
    const pool = (t: tf.Tensor4D): tf.Tensor4D => tf.avgPool(isZeroPad(padding) ? t : tf.pad(t, nhwcPad(padding)), [window[0], window[1]], [strides[0], strides[1]], 'valid')
    if (countIncludePad || isZeroPad(padding)) return ok((ins) => pool(x4(ins)))
    return ok((ins) => tf.div(pool(x4(ins)), pool(tf.ones([1, h, w, 1]))))
  },
  globalAvgPool: () => ok((ins) => tf.mean(arg(ins, 0), [1, 2])),
  concat: (n) => ok((ins) => (ins.length === 1 ? tf.clone(arg(ins, 0)) : tf.concat([...ins], n.params.axis))),
  reshape: (_n, s) => ok((ins) => tf.reshape(arg(ins, 0), [...s.out])),
  transpose: (n) => ok((ins) => tf.transpose(arg(ins, 0), [...n.params.perm])),
  dropPath: (n, s) => {
    const { rate, training } = n.params
    if (!training || rate === 0) return ok((ins) => tf.clone(arg(ins, 0)))
    const maskShape = s.out.map((d, i) => (i === 0 ? d : 1))
    return ok((ins, ctx) => {
      const keep = tf.floor(tf.add(tf.randomUniform(maskShape, 0, 1, 'float32', ctx.nextSeed()), 1 - rate))
      return tf.mul(arg(ins, 0), tf.div(keep, 1 - rate))
    })
  },
  maskLike: maskLikeRule,
  maskedBatchNorm: maskedBatchNormRule,
  maskedGroupNorm: maskedGroupNormRule,
  maskedGlobalAvgPool: maskedGlobalAvgPoolRule,
  maskFill: maskFillRule,
  maskedPatchLoss: (n) => ok((ins) => maskedPatchLoss(arg(ins, 0), arg(ins, 1), arg(ins, 2), n.params.eps)),
}
