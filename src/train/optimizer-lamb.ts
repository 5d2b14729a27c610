// LAMB as SparK pre-trains with it: `TheSameAsTimmLAMB` (pretrain/utils/lamb.py, a copy of timm 0.5.4
// `Lamb`; spec §6). Per step:
//   G = sqrt(Σ over every parameter WITH a gradient of ||g||²); g /= (G > maxGradNorm ? G/maxGradNorm : 1)
//   per parameter (t = its step count): m = β1·m + β3·g (β3 = 1−β1 with grad averaging, else 1);
//   v = β2·v + (1−β2)·g²; u = (m/bc1) / (sqrt(v)/sqrt(bc2) + eps) (bc = 1−β^t, or 1 without bias correction)
//   if wd ≠ 0: u += wd·p;  if wd ≠ 0 or alwaysAdapt: u *= (||p||>0 && ||u||>0 ? ||p||/||u|| : 1) (≤ 1 with trustClip)
//   p −= lr·u
// beta2 has no default on purpose: SparK's `betas=(0.9, ada)` silently uses ada = 0 for model names that are
// neither resnet nor convnext (spec §2 pitfall); callers must state it. Step counters are per parameter
// (timm keeps one per group; identical whenever every parameter of a group gets a gradient every step, as in
// SparK, where even the mask tokens always do).

import * as E from 'fp-ts/lib/Either.js'
import { tf } from '../backends/tfjs/tf.js'
import type { LiveState, OptimError, Optimizer } from './optimizer.js'
import { checkBetasEps, globalGradNorm, l2Norm, optimError, optimizerOf, planStep } from './optimizer.js'

/** LAMB hyper-parameters; everything but `betas` defaults to SparK's pre-training values. */
export interface LambConfig {
  /** (β1, β2); SparK: (0.9, 0.95) for ResNets, (0.9, 0.999) for ConvNeXts. No default (see file header). */
  readonly betas: readonly [number, number]
  /** Added to sqrt(v̂); default 1e-6. */
  readonly eps?: number
  /** Global gradient-norm clip threshold; default 5 (Infinity disables). */
  readonly maxGradNorm?: number
  /** Adam bias correction; default true. */
  readonly biasCorrection?: boolean
  /** m accumulates (1−β1)·g (true, default) or g. */
  readonly gradAveraging?: boolean
  /** Clip the trust ratio at 1; default false. */
  readonly trustClip?: boolean
  /** Apply the trust ratio also when wd = 0; default false. */
  readonly alwaysAdapt?: boolean
}

/** SparK's LAMB settings for a given β2 (eps 1e-6, clip 5, bias correction, grad averaging). */
export const sparkLamb = (beta2: number): LambConfig => ({ betas: [0.9, beta2] })

/** Creates a LAMB optimiser on the active tfjs backend; Left on an invalid configuration. */
export const createLamb = (cfg: LambConfig): E.Either<OptimError, Optimizer> => {
  const [b1, b2] = cfg.betas
  const eps = cfg.eps ?? 1e-6
  const maxGradNorm = cfg.maxGradNorm ?? 5
  const biasCorrection = cfg.biasCorrection ?? true
  const beta3 = (cfg.gradAveraging ?? true) ? 1 - b1 : 1
  const trustClip = cfg.trustClip ?? false
  const alwaysAdapt = cfg.alwaysAdapt ?? false
  const ok = checkBetasEps(cfg.betas, eps)
  if (E.isLeft(ok)) return ok
  if (!(maxGradNorm > 0)) return E.left(optimError('BadConfig', `maxGradNorm must be > 0, got ${maxGradNorm}`))
  const store = new Map<string, LiveState>()

  const step: Optimizer['step'] = (params, grads, groups) => {
    const planned = planStep(tf, store, params, grads, groups)
    if (E.isLeft(planned)) return planned
    const plan = planned.right
    if (plan.length === 0) return E.right(undefined)
    tf.tidy(() => {
      const norm = globalGradNorm(tf, plan)
      const limit = tf.scalar(maxGradNorm)
      const clip = tf.where(tf.greater(norm, limit), tf.div(norm, limit), tf.onesLike(norm))
      // One tidy per parameter: the temporaries of a tensor are freed before the next one (peak memory ≈ one
      // parameter's temporaries, not all of them; a ResNet-50 SparK step otherwise exhausts the 4 GB wasm heap).
      for (const e of plan) {
        tf.tidy(() => {
          const t = e.state.step + 1
          const bc1 = biasCorrection ? 1 - b1 ** t : 1
          const bc2 = biasCorrection ? 1 - b2 ** t : 1
          const g = tf.div(e.g, clip)
          const m = tf.add(tf.mul(e.state.m, b1), tf.mul(g, beta3))
          const v = tf.add(tf.mul(e.state.v, b2), tf.mul(tf.square(g), 1 - b2))
          const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), eps)
          let u = tf.div(tf.div(m, bc1), denom)
          if (e.weightDecay !== 0) u = tf.add(u, tf.mul(e.p, e.weightDecay))
          if (e.weightDecay !== 0 || alwaysAdapt) {
            const wn = l2Norm(tf, e.p)
            const un = l2Norm(tf, u)
            const one = tf.onesLike(wn)
            let ratio = tf.where(tf.greater(wn, 0), tf.where(tf.greater(un, 0), tf.div(wn, un), one), one)
            if (trustClip) ratio = tf.minimum(ratio, one)
            u = tf.mul(u, ratio)
          }
          e.p.assign(tf.sub(e.p, tf.mul(u, e.lr)))
          e.state.m.assign(m)
          e.state.v.assign(v)
          e.state.step = t
        })
      }
    })
    return E.right(undefined)
  }

  return E.right(optimizerOf(tf, 'lamb', store, step))
}
