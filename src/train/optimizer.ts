// Shared core of sparkts's tfjs optimisers (LAMB, AdamW): the step contract, input validation and the
// per-parameter state (first/second moments as non-trainable tf.Variables plus a host step counter).
// Hand-written rather than tf.train.* because SparK needs timm 0.5.4 LAMB semantics (global grad-norm clip
// before the moments, trust ratio only on decayed tensors, bias correction), per-group lr/wd that change
// every iteration, and state that round-trips through host tensors for checkpoints; tfjs ships no LAMB and
// its AdamOptimizer has neither decoupled weight decay nor per-group hyper-parameters.

import * as E from 'fp-ts/lib/Either.js'
import type { tf } from '../backends/tfjs/tf.js'
import type { HostTensor } from '../ir/types.js'

type Tensor = tf.Tensor
type Variable = tf.Variable

/** One parameter group's member names and hyper-parameters for this step. */
export interface StepGroup {
  readonly names: ReadonlyArray<string>
  readonly lr: number
  readonly weightDecay: number
}

/** Why a step or a state import was refused (names the parameter when one is at fault). */
export interface OptimError {
  readonly _tag: 'OptimError'
  readonly kind: 'UnknownParam' | 'Ungrouped' | 'DuplicateGroup' | 'ShapeMismatch' | 'BadHyper' | 'BadConfig' | 'BadState'
  readonly param?: string
  readonly message: string
}

/** Builds an OptimError. */
export const optimError = (kind: OptimError['kind'], message: string, param?: string): OptimError =>
  param === undefined ? { _tag: 'OptimError', kind, message } : { _tag: 'OptimError', kind, param, message }

/** Host copy of one parameter's optimiser state. */
export interface ParamMoments {
  /** Completed steps for this parameter (bias corrections use step + 1 on the next step). */
  readonly step: number
  /** First moment (exp_avg). */
  readonly m: HostTensor
  /** Second moment (exp_avg_sq). */
  readonly v: HostTensor
}

/** Host copy of an optimiser's whole state (for checkpoints and resume). */
export interface OptimizerState {
  readonly kind: 'lamb' | 'adamw'
  readonly params: ReadonlyMap<string, ParamMoments>
}

/** A stateful tfjs optimiser: `step` updates the parameter variables in place inside one tf.tidy. */
export interface Optimizer {
  readonly kind: 'lamb' | 'adamw'
  /** One update of every parameter that has a gradient; parameters without one are left untouched. */
  readonly step: (
    params: ReadonlyMap<string, Variable>,
    grads: ReadonlyMap<string, Tensor>,
    groups: ReadonlyArray<StepGroup>,
  ) => E.Either<OptimError, void>
  /** Host copies of the moments and step counters. */
  readonly exportState: () => OptimizerState
  /** Replaces the whole state by a host copy (shapes are checked against the parameters at the next step). */
  readonly importState: (s: OptimizerState) => E.Either<OptimError, void>
  /** Frees the moment variables. */
  readonly dispose: () => void
}

/** One parameter's live state. */
export interface LiveState {
  readonly m: Variable
  readonly v: Variable
  step: number
}

/** One validated unit of work: a parameter, its gradient, its state and its group's hyper. */
export interface PlanEntry {
  readonly name: string
  readonly p: Variable
  readonly g: Tensor
  readonly lr: number
  readonly weightDecay: number
  readonly state: LiveState
}

/**
 * Σ x² of a tensor as a scalar. Backend reductions are accurate: tfjs-cpu accumulates in doubles, and
 * sparkts replaces tfjs-wasm's one-pass float32 Sum with a blocked one (backends/tfjs/wasm-kernels-reduce.ts;
 * the one-pass sum put LAMB 6e-5 off the official update on the fixture). Call inside tf.tidy.
 */
export const sumSquares = (tfm: typeof tf, x: Tensor): Tensor => tfm.sum(tfm.square(x))

/** Euclidean norm via `sumSquares` (call inside tf.tidy). */
export const l2Norm = (tfm: typeof tf, x: Tensor): Tensor => tfm.sqrt(sumSquares(tfm, x))

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean => a.length === b.length && a.every((d, i) => d === b[i])

/** Checks a step's inputs and pairs every gradient with its parameter, group and (lazily created) state. */
export const planStep = (
  tfm: typeof tf,
  store: Map<string, LiveState>,
  params: ReadonlyMap<string, Variable>,
  grads: ReadonlyMap<string, Tensor>,
  groups: ReadonlyArray<StepGroup>,
): E.Either<OptimError, ReadonlyArray<PlanEntry>> => {
  const groupOf = new Map<string, StepGroup>()
  for (const [i, g] of groups.entries()) {
    if (!Number.isFinite(g.lr) || g.lr < 0) return E.left(optimError('BadHyper', `group ${i}: lr must be finite and >= 0, got ${g.lr}`))
    if (!Number.isFinite(g.weightDecay) || g.weightDecay < 0) {
      return E.left(optimError('BadHyper', `group ${i}: weightDecay must be finite and >= 0, got ${g.weightDecay}`))
    }
    for (const n of g.names) {
      if (groupOf.has(n)) return E.left(optimError('DuplicateGroup', `'${n}' is in more than one group`, n))
      groupOf.set(n, g)
    }
  }
  const pending: Array<Omit<PlanEntry, 'state'> & { readonly state: LiveState | undefined }> = []
  for (const [name, g] of grads) {
    const p = params.get(name)
    if (p === undefined) return E.left(optimError('UnknownParam', `gradient for '${name}', which is not a parameter`, name))
    const grp = groupOf.get(name)
    if (grp === undefined) return E.left(optimError('Ungrouped', `parameter '${name}' has a gradient but is in no group`, name))
    if (p.dtype !== 'float32' || g.dtype !== 'float32') return E.left(optimError('ShapeMismatch', `'${name}': float32 expected, got ${p.dtype}/${g.dtype}`, name))
    if (!sameShape(p.shape, g.shape)) {
      return E.left(optimError('ShapeMismatch', `'${name}': gradient [${g.shape.join(',')}] vs parameter [${p.shape.join(',')}]`, name))
    }
    const st = store.get(name)
    if (st !== undefined && (!sameShape(st.m.shape, p.shape) || !sameShape(st.v.shape, p.shape))) {
      return E.left(optimError('ShapeMismatch', `'${name}': state [${st.m.shape.join(',')}] vs parameter [${p.shape.join(',')}]`, name))
    }
    pending.push({ name, p, g, lr: grp.lr, weightDecay: grp.weightDecay, state: st })
  }
  // Missing state is created only once everything validated (a refused step changes nothing).
  return E.right(
    pending.map((e): PlanEntry => {
      if (e.state !== undefined) return { ...e, state: e.state }
      const state: LiveState = { m: zeroVariable(tfm, e.p.shape), v: zeroVariable(tfm, e.p.shape), step: 0 }
      store.set(e.name, state)
      return { ...e, state }
    }),
  )
}

const zeroVariable = (tfm: typeof tf, shape: ReadonlyArray<number>): Variable => {
  const z = tfm.zeros([...shape])
  const v = tfm.variable(z, false)
  z.dispose()
  return v
}

const toHost = (t: Tensor): HostTensor => ({ shape: [...t.shape], data: new Float32Array(t.dataSync()) })

/** Host copy of a live state store. */
export const exportStore = (kind: OptimizerState['kind'], store: ReadonlyMap<string, LiveState>): OptimizerState => ({
  kind,
  params: new Map([...store].map(([n, s]) => [n, { step: s.step, m: toHost(s.m), v: toHost(s.v) }])),
})

/** Validates a host state and replaces the store's contents by it (old variables are disposed). */
export const importStore = (
  tfm: typeof tf,
  kind: OptimizerState['kind'],
  store: Map<string, LiveState>,
  s: OptimizerState,
): E.Either<OptimError, void> => {
  if (s.kind !== kind) return E.left(optimError('BadState', `state of a '${s.kind}' optimiser given to '${kind}'`))
  for (const [n, pm] of s.params) {
    if (!Number.isSafeInteger(pm.step) || pm.step < 0) return E.left(optimError('BadState', `'${n}': step must be a non-negative integer, got ${pm.step}`, n))
    for (const t of [pm.m, pm.v]) {
      if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) return E.left(optimError('BadState', `'${n}': data length does not match shape`, n))
    }
    if (!sameShape(pm.m.shape, pm.v.shape)) return E.left(optimError('BadState', `'${n}': m and v shapes differ`, n))
  }
  disposeStore(store)
  for (const [n, pm] of s.params) {
    const mk = (h: HostTensor): Variable => {
      const t = tfm.tensor(h.data, [...h.shape], 'float32')
      const v = tfm.variable(t, false)
      t.dispose()
      return v
    }
    store.set(n, { m: mk(pm.m), v: mk(pm.v), step: pm.step })
  }
  return E.right(undefined)
}

/** Disposes every state variable and empties the store. */
export const disposeStore = (store: Map<string, LiveState>): void => {
  for (const s of store.values()) {
    s.m.dispose()
    s.v.dispose()
  }
  store.clear()
}

/** Checks betas ∈ [0, 1) and eps ≥ 0 (both optimisers). */
export const checkBetasEps = (betas: readonly [number, number], eps: number): E.Either<OptimError, void> => {
  for (const b of betas) if (!(Number.isFinite(b) && b >= 0 && b < 1)) return E.left(optimError('BadConfig', `betas must lie in [0, 1), got (${betas.join(', ')})`))
  if (!(Number.isFinite(eps) && eps >= 0)) return E.left(optimError('BadConfig', `eps must be finite and >= 0, got ${eps}`))
  return E.right(undefined)
}

/** √(Σ_params Σ g²) over a step's plan: the global gradient norm both optimisers clip by (call inside tf.tidy). */
export const globalGradNorm = (tfm: typeof tf, plan: ReadonlyArray<PlanEntry>): Tensor => {
  const sq = plan.map((e) => tfm.tidy(() => sumSquares(tfm, e.g)))
  return tfm.sqrt(sq.length === 1 ? (sq[0] as Tensor) : tfm.addN(sq))
}

/** An Optimizer of `kind` from its update rule and moment store (state export/import and disposal are shared). */
export const optimizerOf = (tfm: typeof tf, kind: OptimizerState['kind'], store: Map<string, LiveState>, step: Optimizer['step']): Optimizer => ({
  kind,
  step,
  exportState: () => exportStore(kind, store),
  importState: (s) => importStore(tfm, kind, store, s),
  dispose: () => disposeStore(store),
})
