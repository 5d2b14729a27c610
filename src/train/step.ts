// The SparK training step on tfjs (wasm by default, or cpu): the graph is lowered once (prepareTfjs, the same
// lowering core as inference), every parameter lives in a tf.Variable uploaded once, and `step` computes the
// loss and the gradient of every trainable parameter (tfjs engine.gradients over the lowered evaluation),
// applies the optimiser per SparK parameter group (no decay for 1-D / bias / mask_token / gamma) and then
// updates the BatchNorm running statistics exactly as PyTorch's BatchNorm in training mode:
//   rm ← (1−momentum)·rm + momentum·mean,  rv ← (1−momentum)·rv + momentum·var_biased·N/(N−1)
// with N the positions the statistics were taken over (dense BN: B·H·W; masked BN: Σm over batch and space,
// SparK's SparseBatchNorm2d being a BatchNorm1d over the gathered active positions). The lowerings hand their
// batch statistics to the step through RunCtx.onBatchStats. A non-finite loss is returned as data and changes
// nothing (SparK stops the run; the caller decides). Nothing a step creates outlives it (numTensors is constant).

import * as E from 'fp-ts/lib/Either.js'
import type { BackendName, TensorMap } from '../backends/backend.js'
import { getBackend } from '../backends/index.js'
import type { PreparedTfjs } from '../backends/tfjs/lower.js'
import { prepareTfjs, withOverrides } from '../backends/tfjs/lower.js'
import type { BatchStats, LowerRules, RunCtx } from '../backends/tfjs/rules.js'
import { activate, activateSync, tf } from '../backends/tfjs/tf.js'
import type { CompileError } from '../ir/errors.js'
import { formatError, refOf } from '../ir/errors.js'
import type { Graph, Node, NodeId } from '../ir/graph.js'
import { graphParams } from '../ir/graph.js'
import type { ConcreteShape, HostTensor } from '../ir/types.js'
import { showShape } from '../ir/types.js'
import type { AdamWConfig } from './optimizer-adamw.js'
import { createAdamW } from './optimizer-adamw.js'
import type { LambConfig } from './optimizer-lamb.js'
import { createLamb } from './optimizer-lamb.js'
import type { OptimError, Optimizer, OptimizerState } from './optimizer.js'
import type { ParamGroupSpec } from './param-groups.js'
import { groupsAt, sparkNoDecayKeys, sparkParamGroups } from './param-groups.js'
import type { LrSchedule, WdSchedule } from './schedule.js'
import { lrAt, wdAt } from './schedule.js'

/** tfjs backends that differentiate. */
export type TrainBackend = Extract<BackendName, 'tfjs-wasm' | 'tfjs-cpu'>

/** Which optimiser the trainer creates (and owns). */
export type OptimizerSpec = { readonly kind: 'lamb'; readonly config: LambConfig } | { readonly kind: 'adamw'; readonly config: AdamWConfig }

/** Options of `createTrainer`. */
export interface TrainerOptions {
  /** Default 'tfjs-wasm'. */
  readonly backend?: TrainBackend
  /** wasm threads (best effort, fixed at the first wasm init of the process). */
  readonly threads?: number
  /** Concrete shape of every graph input (NHWC). */
  readonly inputShapes: Readonly<Record<string, ConcreteShape>>
  /** Initial value of every parameter (trainable and running statistics), by name. */
  readonly params: TensorMap
  readonly optimizer: OptimizerSpec
  /** The scalar output minimised; default 'loss'. */
  readonly lossOutput?: string
  /** Substrings exempting a tensor from weight decay; default SparK's. */
  readonly noDecayKeys?: ReadonlyArray<string>
  /** Seed of the stochastic nodes (drop path); default 0. */
  readonly seed?: number
}

/** Hyper-parameters of one step: lr of every group, weight decay of the decay group. */
export interface StepHyper {
  readonly lr: number
  readonly wd: number
}

/** What a step did. */
export interface StepResult {
  readonly loss: number
  /** False when the loss was NaN/±Inf: then nothing (parameters, statistics, optimiser, counter) changed. */
  readonly applied: boolean
  /** Completed (applied) steps so far. */
  readonly iteration: number
  /** Wall-clock split: loss + gradients (forward, backward, loss read back), then optimiser + running statistics. */
  readonly seconds: { readonly gradients: number; readonly update: number }
}

/** Host copy of everything a checkpoint needs to resume bit-identically. */
export interface TrainState {
  /** Every parameter, trainable or not (BN running statistics), by name. */
  readonly params: ReadonlyMap<string, HostTensor>
  readonly optimizer: OptimizerState
  readonly iteration: number
}

/** Why the trainer refused something. */
export interface TrainError {
  readonly _tag: 'TrainError'
  readonly message: string
}

/** A live trainer; call `dispose` when done (frees the variables and the optimiser state). */
export interface Trainer {
  readonly backend: TrainBackend
  /** SparK's decay / no_decay groups over the trainable parameters. */
  readonly groups: readonly [ParamGroupSpec, ParamGroupSpec]
  /** One training step on a batch; Left on invalid inputs or hyper-parameters (nothing changed then). */
  readonly step: (inputs: TensorMap, h: StepHyper) => Promise<E.Either<TrainError, StepResult>>
  readonly exportState: () => TrainState
  /** Replaces parameters, optimiser state and counter; validated first, nothing changes on Left. */
  readonly importState: (s: TrainState) => E.Either<TrainError, void>
  readonly dispose: () => void
}

const trainError = (message: string): TrainError => ({ _tag: 'TrainError', message })

/** Renders any trainer error as one line. */
export const formatTrainError = (e: TrainError | CompileError | OptimError): string =>
  e._tag === 'TrainError' || e._tag === 'OptimError' ? e.message : formatError(e)

/** The lr / wd of SparK's schedules at global iteration `it`. */
export const hyperAt = (s: { readonly lr: LrSchedule; readonly wd: WdSchedule }, it: number): StepHyper => ({ lr: lrAt(s.lr, it), wd: wdAt(s.wd, it) })

const tfjsTarget = async (b: TrainBackend): Promise<{ readonly tfName: string; readonly rules: LowerRules }> =>
  b === 'tfjs-wasm'
    ? { tfName: 'wasm', rules: withOverrides((await import('../backends/tfjs/wasm.js')).wasmRules) }
    : { tfName: 'cpu', rules: withOverrides((await import('../backends/tfjs/cpu.js')).cpuRules) }

type BnNode = Node<'batchNorm' | 'maskedBatchNorm'>

/** Running-mean / running-var parameter nodes of a BN node (inputs 3,4 dense; 4,5 masked). */
const runningStatIds = (n: BnNode): readonly [NodeId | undefined, NodeId | undefined] =>
  n.op === 'batchNorm' ? [n.inputs[3], n.inputs[4]] : [n.inputs[4], n.inputs[5]]

const toHost = (t: tf.Tensor): HostTensor => ({ shape: [...t.shape], data: new Float32Array(t.dataSync()) })

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean => a.length === b.length && a.every((d, i) => d === b[i])

/** Creates a trainer for a training-mode graph (e.g. buildSpark(…, { training: true })); Left says why not. */
export const createTrainer = async (g: Graph, o: TrainerOptions): Promise<E.Either<TrainError | CompileError | OptimError, Trainer>> => {
  const backendName = o.backend ?? 'tfjs-wasm'
  const b = await getBackend(backendName, o.threads === undefined ? {} : { threads: o.threads })
  if (E.isLeft(b)) return E.left(trainError(`backend ${backendName}: ${b.left}`))
  const { tfName, rules } = await tfjsTarget(backendName)
  const preparedE = prepareTfjs(backendName, rules)(g, { inputShapes: o.inputShapes, params: o.params })
  if (E.isLeft(preparedE)) return preparedE
  const prepared: PreparedTfjs = preparedE.right
  if (prepared.noGrad.length > 0) return E.left(trainError(`cannot differentiate on ${backendName}: ${prepared.noGrad.join('; ')}`))
  const lossName = o.lossOutput ?? 'loss'
  const lossIdx = g.outputs.findIndex((x) => x.name === lossName)
  const lossOut = g.outputs[lossIdx]
  if (lossOut === undefined) return E.left(trainError(`graph has no output '${lossName}' (outputs: ${g.outputs.map((x) => x.name).join(', ')})`))
  const lossShape = prepared.shapes.get(lossOut.node) ?? []
  if (lossShape.reduce((a, c) => a * c, 1) !== 1) return E.left(trainError(`output '${lossName}' must be a scalar, got ${showShape(lossShape)}`))
  const params = graphParams(g)
  const paramIds = new Set<NodeId>(params.map((p) => p.id))
  for (const n of g.nodes) {
    if ((n.op === 'batchNorm' || n.op === 'maskedBatchNorm') && n.params.training) {
      const ids = runningStatIds(n)
      if (!ids.every((i) => i !== undefined && paramIds.has(i))) return E.left({ _tag: 'BadParams', node: refOf(n), message: 'training-mode BatchNorm whose running statistics are not parameters' })
    }
  }
  const groups = sparkParamGroups(params.map((p) => p.params), o.noDecayKeys ?? sparkNoDecayKeys)

  await activate(tfName)
  activateSync(tfName)
  const opt: E.Either<OptimError, Optimizer> = o.optimizer.kind === 'lamb' ? createLamb(o.optimizer.config) : createAdamW(o.optimizer.config)
  if (E.isLeft(opt)) return opt
  const optimizer = opt.right
  const varById = new Map<NodeId, tf.Variable>()
  const varByName = new Map<string, tf.Variable>()
  for (const p of params) {
    const h = o.params.get(p.params.name)
    if (h === undefined) continue // prepareTfjs checked presence
    const t = tf.tensor(h.data.slice(), [...h.shape], 'float32')
    const v = tf.variable(t, p.params.trainable)
    t.dispose()
    varById.set(p.id, v)
    varByName.set(p.params.name, v)
  }
  const trainable = params.filter((p) => p.params.trainable)
  const trainVars = trainable.map((p) => varById.get(p.id)).filter((v): v is tf.Variable => v !== undefined)
  let iteration = 0
  let seed = (o.seed ?? 0) >>> 0
  let disposed = false

  interface Kept {
    readonly n: BnNode
    readonly mean: tf.Tensor
    readonly biasedVar: tf.Tensor
    readonly count: number | tf.Tensor
  }
  const disposeKept = (ks: ReadonlyArray<Kept>): void => {
    for (const k of ks) tf.dispose([k.mean, k.biasedVar, ...(typeof k.count === 'number' ? [] : [k.count])])
  }
  /** PyTorch's running-statistics update (after the optimiser step; the two touch disjoint variables). */
  const updateRunningStats = (ks: ReadonlyArray<Kept>): void =>
    tf.tidy(() => {
      for (const k of ks) {
        const [rmId, rvId] = runningStatIds(k.n)
        const rm = rmId === undefined ? undefined : varById.get(rmId)
        const rv = rvId === undefined ? undefined : varById.get(rvId)
        if (rm === undefined || rv === undefined) continue
        const mom = k.n.params.momentum
        const n = typeof k.count === 'number' ? tf.scalar(k.count) : k.count
        // N/(N−1); N ≤ 1 (PyTorch refuses a 1-value batch) keeps the biased variance instead of dividing by 0.
        const unbias = tf.div(n, tf.maximum(tf.sub(n, 1), 1))
        rm.assign(tf.add(tf.mul(rm, 1 - mom), tf.mul(k.mean, mom)))
        rv.assign(tf.add(tf.mul(rv, 1 - mom), tf.mul(tf.mul(k.biasedVar, unbias), mom)))
      }
    })

  const step = async (inputs: TensorMap, h: StepHyper): Promise<E.Either<TrainError, StepResult>> => {
    if (disposed) return E.left(trainError('trainer was disposed'))
    if (!Number.isFinite(h.lr) || h.lr < 0 || !Number.isFinite(h.wd) || h.wd < 0) return E.left(trainError(`lr and wd must be finite and >= 0, got ${h.lr}, ${h.wd}`))
    await activate(tfName)
    activateSync(tfName)
    const kept: Kept[] = []
    const ctx: RunCtx = {
      nextSeed: () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0),
      onBatchStats: (n: BnNode, s: BatchStats) => {
        kept.push({ n, mean: tf.keep(s.mean), biasedVar: tf.keep(s.biasedVar), count: typeof s.count === 'number' ? s.count : tf.keep(s.count) })
      },
    }
    const t0 = performance.now()
    let value: tf.Scalar
    let grads: ReadonlyArray<tf.Tensor | null>
    try {
      const r = tf.engine().gradients(
        () => {
          const outs = prepared.evaluate(prepared.bindInputs(inputs, varById), ctx)
          const l = outs[lossIdx]
          if (l === undefined) throw new Error(`internal: loss output '${lossName}' missing`)
          return tf.reshape(l, []) as tf.Scalar
        },
        trainVars,
        undefined,
        true,
      )
      value = r.value
      grads = r.grads
    } catch (e) {
      disposeKept(kept)
      return E.left(trainError(e instanceof Error ? e.message : String(e)))
    }
    const gradMap = new Map<string, tf.Tensor>()
    for (const [i, p] of trainable.entries()) {
      const gr = grads[i]
      if (gr !== null && gr !== undefined) gradMap.set(p.params.name, gr)
    }
    const release = (): void => {
      value.dispose()
      tf.dispose([...gradMap.values()])
      disposeKept(kept)
    }
    const loss = (await value.data())[0] ?? NaN
    const t1 = performance.now()
    if (!Number.isFinite(loss)) {
      release()
      return E.right({ loss, applied: false, iteration, seconds: { gradients: (t1 - t0) / 1000, update: 0 } })
    }
    const stepped = optimizer.step(varByName, gradMap, groupsAt(groups, h.lr, h.wd))
    if (E.isLeft(stepped)) {
      release()
      return E.left(trainError(stepped.left.message))
    }
    updateRunningStats(kept)
    release()
    iteration += 1
    return E.right({ loss, applied: true, iteration, seconds: { gradients: (t1 - t0) / 1000, update: (performance.now() - t1) / 1000 } })
  }

  const exportState = (): TrainState => ({
    params: new Map([...varByName].map(([n, v]) => [n, toHost(v)])),
    optimizer: optimizer.exportState(),
    iteration,
  })

  const importState = (s: TrainState): E.Either<TrainError, void> => {
    if (disposed) return E.left(trainError('trainer was disposed'))
    if (!Number.isSafeInteger(s.iteration) || s.iteration < 0) return E.left(trainError(`iteration must be a non-negative integer, got ${s.iteration}`))
    for (const [n, v] of varByName) {
      const t = s.params.get(n)
      if (t === undefined) return E.left(trainError(`state has no parameter '${n}'`))
      if (!sameShape(t.shape, v.shape) || t.data.length !== v.size) return E.left(trainError(`parameter '${n}': state shape ${showShape(t.shape)}, expected ${showShape(v.shape)}`))
    }
    for (const n of s.params.keys()) if (!varByName.has(n)) return E.left(trainError(`state has unknown parameter '${n}'`))
    activateSync(tfName)
    const o2 = optimizer.importState(s.optimizer)
    if (E.isLeft(o2)) return E.left(trainError(o2.left.message))
    tf.tidy(() => {
      for (const [n, v] of varByName) {
        const t = s.params.get(n)
        if (t !== undefined) v.assign(tf.tensor(t.data, [...t.shape], 'float32'))
      }
    })
    iteration = s.iteration
    return E.right(undefined)
  }

  return E.right({
    backend: backendName,
    groups,
    step,
    exportState,
    importState,
    dispose: () => {
      if (disposed) return
      disposed = true
      optimizer.dispose()
      for (const v of varById.values()) v.dispose()
      varById.clear()
      varByName.clear()
    },
  })
}
