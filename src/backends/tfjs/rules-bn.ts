// Fused training-mode BatchNorm (dense and masked) for tfjs: one tape node per BN (tf.customGrad) instead of
// the ~10 broadcasting ops whose every full-size intermediate autodiff kept for the backward (measured on
// SparK ResNet-50 224 px, batch 1: BN held ~1.0 GB of the ~1.9 GB live after the forward). The forward saves
// only x, m (both already alive: x is the previous op's output, m the per-resolution mask), γ, β, μ and
// s = 1/√(σ²+eps); the backward recomputes x̂ inside a tf.tidy and uses the closed form derived below.
// tfjs has no fused op with these semantics (tf.batchNorm's gradient is incomplete, see rules.ts header).
//
// Derivation (per channel; weights m ≥ 0 over the positions i of the batch and space axes; dense: m ≡ 1):
//   N = Σm,  μ = Σ m·x / N,  σ² = Σ m·(x−μ)² / N,  s = (σ²+eps)^(−1/2),  x̂ = (x−μ)·s,  y = (γ·x̂ + β)·m.
//   Let g = m·dy (the gradient reaching z = γx̂ + β) and a = γ·g (reaching x̂). Then
//     dβ = Σ g,   dγ = Σ g·x̂.
//   ∂μ/∂x_i = m_i/N; ∂σ²/∂x_i = 2m_i(x_i−μ)/N (the μ-path vanishes since Σ m(x−μ) = 0);
//   ∂L/∂μ = −s·Σa, ∂L/∂σ² = −½ s²·Σ a·x̂, hence
//     dx = s·a − (s·m/N)·(Σa + x̂·Σ a·x̂) = γ·s·(g − m·(Σg + x̂·Σ g·x̂)/N)
//   which for a binary mask is γ·s·m/N·(N·dy − Σ(m·dy) − x̂·Σ(m·dy·x̂)), the textbook BN backward on the
//   active positions. For the mask itself (the conformance suite differentiates w.r.t. every input):
//   ∂μ/∂m_i = (x_i−μ)/N = x̂_i/(sN), ∂σ²/∂m_i = ((x_i−μ)² − σ²)/N, so, summed over channels c,
//     dm = Σ_c [ dy·(γx̂ + β) − (x̂·Σa + ½·Σ(a·x̂)·(x̂² − s²σ²)) / N ],   s²σ² = 1 − eps·s².
//   N is clamped to 1e-12 (an all-masked batch: every Σ above is 0 then, so the clamp is never differentiated).
// The statistics μ and biased σ² go to RunCtx.onBatchStats already tf.kept (they are created inside the custom
// op's own tidy): the hook owns and disposes them, as the trainer and the fine-tuner do.

import { tf } from './tf.js'
import type { BatchStats } from './rules.js'

/** Receives a training BN's batch statistics (tensors already kept; the receiver disposes them). */
export type StatsSink = (s: BatchStats) => void

const reduceAxes = (x: tf.Tensor): number[] => x.shape.slice(0, -1).map((_, i) => i)

const need = (t: tf.Tensor | tf.GradSaveFunc | undefined, what: string): tf.Tensor => {
  if (!(t instanceof tf.Tensor)) throw new Error(`fused batchNorm: missing ${what}`)
  return t
}

/** Training-mode BN of x (…, C) with statistics over every axis but the last; `m` (…, 1) weights positions and zeroes the output (masked BN) or is absent (dense BN). */
export const fusedTrainBatchNorm = (x: tf.Tensor, m: tf.Tensor | undefined, gamma: tf.Tensor, beta: tf.Tensor, eps: number, sink: StatsSink | undefined): tf.Tensor => {
  const axes = reduceAxes(x)
  const denseCount = x.size / (x.shape[x.rank - 1] ?? 1)
  const masked = m !== undefined
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1]
    if (typeof save !== 'function') throw new Error('fused batchNorm: no save function')
    const xv = need(args[0], 'x')
    const mv = masked ? need(args[1], 'm') : undefined
    const g = need(args[masked ? 2 : 1], 'gamma')
    const b = need(args[masked ? 3 : 2], 'beta')
    const count = mv === undefined ? tf.scalar(denseCount) : tf.maximum(tf.sum(mv), 1e-12)
    const mean = mv === undefined ? tf.mean(xv, axes) : tf.div(tf.sum(tf.mul(xv, mv), axes), count)
    const centred = tf.sub(xv, mean)
    const sq = tf.square(centred)
    const variance = mv === undefined ? tf.mean(sq, axes) : tf.div(tf.sum(tf.mul(sq, mv), axes), count)
    tf.dispose([centred, sq])
    const invstd = tf.rsqrt(tf.add(variance, eps))
    const scale = tf.mul(g, invstd)
    const z = tf.add(tf.mul(xv, scale), tf.sub(b, tf.mul(mean, scale)))
    const y = mv === undefined ? z : tf.mul(z, mv)
    if (sink !== undefined) sink({ mean: tf.keep(tf.clone(mean)), biasedVar: tf.keep(tf.clone(variance)), count: mv === undefined ? denseCount : tf.keep(tf.clone(count)) })
    save(mv === undefined ? [xv, g, b, mean, invstd, count] : [xv, g, b, mean, invstd, count, mv])
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sx, sg, sb, smu, ss, sn, sm] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined]
          const xhat = tf.mul(tf.sub(sx, smu), ss)
          const gz = sm === undefined ? dy : tf.mul(dy, sm)
          const sumG = tf.sum(gz, axes)
          const sumGx = tf.sum(tf.mul(gz, xhat), axes)
          const corr = tf.div(tf.add(tf.mul(xhat, sumGx), sumG), sn)
          const dx = tf.mul(tf.mul(sg, ss), tf.sub(gz, sm === undefined ? corr : tf.mul(corr, sm)))
          if (sm === undefined) return [dx, sumGx, sumG]
          // dm: direct term dy·z minus the paths through μ and σ² (see the header), summed over channels.
          const sa = tf.mul(sg, sumG)
          const sax = tf.mul(sg, sumGx)
          const s2v = tf.sub(1, tf.mul(tf.square(ss), eps))
          const viaStats = tf.div(tf.add(tf.mul(xhat, sa), tf.mul(tf.mul(sax, 0.5), tf.sub(tf.square(xhat), s2v))), sn)
          const dm = tf.sum(tf.sub(tf.mul(dy, tf.add(tf.mul(xhat, sg), sb)), viaStats), -1, true)
          return [dx, dm, sumGx, sumG]
        }),
    }
  })
  return m === undefined ? op(x, gamma, beta) : op(x, m, gamma, beta)
}
