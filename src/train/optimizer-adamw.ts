// AdamW with PyTorch's semantics (torch.optim.AdamW, decoupled weight decay; Loshchilov & Hutter 2019):
//   p *= 1 − lr·wd;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   p −= (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + eps),  bc = 1 − β^t, t = the parameter's step count
// SparK's `--opt adamw` alternative (betas (0.9, ada)) and the ConvNeXt fine-tuning optimiser. SparK clips
// gradients for non-LAMB optimisers with torch.nn.utils.clip_grad_norm_ (`--clip`); `clipGradNorm` does the
// same before the step: total = sqrt(Σ||g||²), g *= min(1, max/(total + 1e-6)). betas have no default (same
// reason as LAMB: SparK's β2 = ada silently becomes 0 for unknown model names).

import * as E from 'fp-ts/lib/Either.js'
import { tf } from '../backends/tfjs/tf.js'
import type { LiveState, OptimError, Optimizer } from './optimizer.js'
import { checkBetasEps, globalGradNorm, optimError, optimizerOf, planStep } from './optimizer.js'

/** AdamW hyper-parameters. */
export interface AdamWConfig {
  /** (β1, β2); explicit, no default. */
  readonly betas: readonly [number, number]
  /** Added to sqrt(v̂); default 1e-8 (PyTorch). */
  readonly eps?: number
  /** Optional torch clip_grad_norm_ threshold applied to all gradients first (absent: no clipping). */
  readonly clipGradNorm?: number
}

/** Creates an AdamW optimiser on the active tfjs backend; Left on an invalid configuration. */
export const createAdamW = (cfg: AdamWConfig): E.Either<OptimError, Optimizer> => {
  const [b1, b2] = cfg.betas
  const eps = cfg.eps ?? 1e-8
  const ok = checkBetasEps(cfg.betas, eps)
  if (E.isLeft(ok)) return ok
  const clipAt = cfg.clipGradNorm
  if (clipAt !== undefined && !(clipAt > 0)) return E.left(optimError('BadConfig', `clipGradNorm must be > 0, got ${clipAt}`))
  const store = new Map<string, LiveState>()

  const step: Optimizer['step'] = (params, grads, groups) => {
    const planned = planStep(tf, store, params, grads, groups)
    if (E.isLeft(planned)) return planned
    const plan = planned.right
    if (plan.length === 0) return E.right(undefined)
    tf.tidy(() => {
      let coef: tf.Tensor | undefined
      if (clipAt !== undefined) {
        const total = globalGradNorm(tf, plan)
        coef = tf.minimum(tf.div(clipAt, tf.add(total, 1e-6)), 1)
      }
      // One tidy per parameter: the temporaries of a tensor are freed before the next one (peak memory ≈ one
      // parameter's temporaries, not all of them; a ResNet-50 SparK step otherwise exhausts the 4 GB wasm heap).
      for (const e of plan) {
        tf.tidy(() => {
          const t = e.state.step + 1
          const bc1 = 1 - b1 ** t
          const bc2 = 1 - b2 ** t
          const g = coef === undefined ? e.g : tf.mul(e.g, coef)
          const decayed = e.weightDecay !== 0 ? tf.mul(e.p, 1 - e.lr * e.weightDecay) : e.p
          const m = tf.add(tf.mul(e.state.m, b1), tf.mul(g, 1 - b1))
          const v = tf.add(tf.mul(e.state.v, b2), tf.mul(tf.square(g), 1 - b2))
          const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), eps)
          e.p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), e.lr / bc1)))
          e.state.m.assign(m)
          e.state.v.assign(v)
          e.state.step = t
        })
      }
    })
    return E.right(undefined)
  }

  return E.right(optimizerOf(tf, 'adamw', store, step))
}
