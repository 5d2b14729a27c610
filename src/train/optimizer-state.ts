// Flat named-tensor form of an optimiser's state, for checkpoint files (e.g. safetensors, which hold only
// named tensors plus string metadata): `<param>.exp_avg`, `<param>.exp_avg_sq` (PyTorch's names for m and
// v) and `<param>.step` as a one-element tensor; the optimiser kind goes into the metadata. The moments are
// in the layout of the parameters they belong to (sparkts layouts during training). The step count travels as
// float32, exact up to 2^24 iterations (SparK's longest schedule has 500 800).

import * as E from 'fp-ts/lib/Either.js'
import type { HostTensor } from '../ir/types.js'
import type { OptimError, OptimizerState, ParamMoments } from './optimizer.js'
import { optimError } from './optimizer.js'

/** Metadata key that records the optimiser kind. */
export const optimizerKindKey = 'sparkts.optimizer'

/** Flat form: named host tensors plus metadata. */
export interface FlatOptimizerState {
  readonly tensors: ReadonlyMap<string, HostTensor>
  readonly metadata: Readonly<Record<string, string>>
}

const suffixes = ['.exp_avg_sq', '.exp_avg', '.step'] as const

/** Flattens an optimiser state into named tensors. */
export const flattenOptimizerState = (s: OptimizerState): FlatOptimizerState => {
  const tensors = new Map<string, HostTensor>()
  for (const [n, pm] of s.params) {
    tensors.set(`${n}.exp_avg`, pm.m)
    tensors.set(`${n}.exp_avg_sq`, pm.v)
    tensors.set(`${n}.step`, { shape: [1], data: Float32Array.of(pm.step) })
  }
  return { tensors, metadata: { [optimizerKindKey]: s.kind } }
}

/** Rebuilds an optimiser state from its flat form; Left names the first incomplete or malformed entry. */
export const unflattenOptimizerState = (f: FlatOptimizerState): E.Either<OptimError, OptimizerState> => {
  const kind = f.metadata[optimizerKindKey]
  if (kind !== 'lamb' && kind !== 'adamw') return E.left(optimError('BadState', `metadata '${optimizerKindKey}' must be 'lamb' or 'adamw', got ${JSON.stringify(kind)}`))
  const parts = new Map<string, { m?: HostTensor; v?: HostTensor; step?: HostTensor }>()
  for (const [k, t] of f.tensors) {
    const suf = suffixes.find((x) => k.endsWith(x))
    if (suf === undefined) return E.left(optimError('BadState', `unexpected tensor '${k}' (expected <param>.exp_avg, .exp_avg_sq or .step)`))
    const name = k.slice(0, -suf.length)
    const e = parts.get(name) ?? {}
    parts.set(name, suf === '.exp_avg' ? { ...e, m: t } : suf === '.exp_avg_sq' ? { ...e, v: t } : { ...e, step: t })
  }
  const params = new Map<string, ParamMoments>()
  for (const [name, e] of parts) {
    if (e.m === undefined || e.v === undefined || e.step === undefined) return E.left(optimError('BadState', `'${name}' lacks one of exp_avg, exp_avg_sq, step`, name))
    if (e.step.data.length !== 1) return E.left(optimError('BadState', `'${name}.step' must hold one value`, name))
    params.set(name, { m: e.m, v: e.v, step: e.step.data[0] ?? Number.NaN })
  }
  return E.right({ kind, params })
}
