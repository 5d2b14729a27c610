// Lowering of the SparK mask ops to tfjs, only with differentiable broadcasting ops (no gather/scatter,
// whose tfjs gradients are not available on every backend): masked statistics are Σ(x·m)/Σm, the
// masked output is y·m, maskLike is a broadcast multiply of a reshaped mask with ones (training-mode masked
// BN is the fused custom-gradient op of rules-bn.ts). A count of 0 is
// clamped to 1e-12 (the numerator is 0 then, so the mean is 0, as in the reference kernels).

import * as E from 'fp-ts/lib/Either.js'
import type { Node } from '../../ir/graph.js'
import { tf } from './tf.js'
import type { Lowered, ShapesOf } from './rules.js'
import { fusedTrainBatchNorm } from './rules-bn.js'

type Rule<K extends 'maskLike' | 'maskedBatchNorm' | 'maskedGroupNorm' | 'maskedGlobalAvgPool' | 'maskFill'> = (
  n: Node<K>,
  s: ShapesOf,
) => E.Either<string, Lowered>

const arg = (ins: ReadonlyArray<tf.Tensor>, i: number): tf.Tensor => {
  const t = ins[i]
  if (t === undefined) throw new Error(`lowering: missing input ${i}`)
  return t
}

const safeDiv = (s: tf.Tensor, count: tf.Tensor): tf.Tensor => tf.div(s, tf.maximum(count, 1e-12))

/** mask (B,h,w,1) → (B,h,1,w,1) × ones(1,1,rH,1,rW) → (B,H,W,1). */
export const maskLikeRule: Rule<'maskLike'> = (_n, s) => {
  const [b, h, w] = s.ins[0] as [number, number, number, number]
  const [, H, W] = s.out as [number, number, number, number]
  return E.right({ fn: (ins) => tf.reshape(tf.mul(tf.reshape(arg(ins, 0), [b, h, 1, w, 1]), tf.ones([1, 1, H / h, 1, W / w])), [b, H, W, 1]) })
}

/** (x − μ)·γ/√(σ² + eps) + β, then ·m; training statistics Σ over (B,H,W) weighted by m. */
export const maskedBatchNormRule: Rule<'maskedBatchNorm'> = (n) =>
  E.right({
    fn: (ins, ctx) => {
      const [x, m, gamma, beta, rm, rv] = [0, 1, 2, 3, 4, 5].map((i) => arg(ins, i)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]
      const { eps, training } = n.params
      if (!training) {
        const scale = tf.mul(gamma, tf.rsqrt(tf.add(rv, eps)))
        return tf.mul(tf.add(tf.mul(x, scale), tf.sub(beta, tf.mul(rm, scale))), m)
      }
      const sink = ctx.onBatchStats
      return fusedTrainBatchNorm(x, m, gamma, beta, eps, sink === undefined ? undefined : (st) => sink(n, st))
    },
  })

/** x viewed as (B,H,W,G,C/G); statistics over axes (1,2,4) weighted by m (B,H,W,1,1). */
export const maskedGroupNormRule: Rule<'maskedGroupNorm'> = (n, s) => {
  const [b, h, w, c] = s.out as [number, number, number, number]
  const g = n.params.groups
  return E.right({
    fn: (ins) => {
      const x = tf.reshape(arg(ins, 0), [b, h, w, g, c / g])
      const m = tf.reshape(arg(ins, 1), [b, h, w, 1, 1])
      const count = tf.mul(tf.sum(m, [1, 2, 4], true), c / g)
      const mean = safeDiv(tf.sum(tf.mul(x, m), [1, 2, 4], true), count)
      const d = tf.sub(x, mean)
      const variance = safeDiv(tf.sum(tf.mul(tf.square(d), m), [1, 2, 4], true), count)
      const y = tf.reshape(tf.mul(d, tf.rsqrt(tf.add(variance, n.params.eps))), [b, h, w, c])
      return tf.mul(tf.add(tf.mul(y, arg(ins, 2)), arg(ins, 3)), arg(ins, 1))
    },
  })
}

/** Σ_{H,W}(x·m) / Σ_{H,W} m → (B, C). */
export const maskedGlobalAvgPoolRule: Rule<'maskedGlobalAvgPool'> = () =>
  E.right({ fn: (ins) => safeDiv(tf.sum(tf.mul(arg(ins, 0), arg(ins, 1)), [1, 2]), tf.sum(arg(ins, 1), [1, 2])) })

/** (x − fill)·m + fill = m·x + (1 − m)·fill. */
export const maskFillRule: Rule<'maskFill'> = () =>
  E.right({ fn: (ins) => tf.add(tf.mul(tf.sub(arg(ins, 0), arg(ins, 2)), arg(ins, 1)), arg(ins, 2)) })
