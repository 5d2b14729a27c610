// End-to-end fine-tuning: backbone + linear head (the backbone's own `head` when it has one, else global
// average pool → `fc`), softmax cross-entropy, AdamW (decay on weights, none on 1-D tensors and biases, as
// SparK's groups), linear warm-up + cosine lr (schedule.ts), BatchNorm in training mode with PyTorch's
// running-statistics update, then test accuracy with the eval-mode graph (running statistics).
// Why not src/train/step.ts's trainer: it minimises a scalar *graph output*, and the IR has no softmax /
// log op for a cross-entropy; here the loss is taken in tfjs on the lowered logits (same lowering core,
// prepareTfjs + evaluate, and the same optimiser and parameter groups). Training batches come from the
// seeded pipeline (pure in (seed, epoch, step)): RandomResizedCrop + flip as in pretraining.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Backend } from '../backends/backend.js'
import type { PreparedTfjs } from '../backends/tfjs/lower.js'
import { prepareTfjs, withOverrides } from '../backends/tfjs/lower.js'
import type { BatchStats, LowerRules, RunCtx } from '../backends/tfjs/rules.js'
import { activate, activateSync, tf } from '../backends/tfjs/tf.js'
import { GraphBuilder } from '../ir/builder.js'
import { formatError } from '../ir/errors.js'
import type { Graph, Node, NodeId } from '../ir/graph.js'
import { graphParams } from '../ir/graph.js'
import { initParams } from '../ir/init.js'
import type { HostTensor } from '../ir/types.js'
import type { Backbone } from '../models/backbone.js'
import { globalAvgPool, linear } from '../models/layers.js'
import { evalBatch, stepsPerEpoch, trainBatch } from '../data/pipeline.js'
import { createAdamW } from '../train/optimizer-adamw.js'
import { groupsAt, sparkParamGroups } from '../train/param-groups.js'
import { lrAt } from '../train/schedule.js'
import { accuracy } from './logistic.js'
import type { LabelledSplits } from './labelled-data.js'
import type { BackboneParams } from './weights.js'
import { mergeParams } from './weights.js'

/** Options of `finetune`. */
export interface FinetuneOptions {
  readonly backend: 'tfjs-wasm' | 'tfjs-cpu'
  readonly inputSize: number
  readonly epochs: number
  readonly batchSize: number
  readonly seed: number
  /** Peak lr (default 2e-3), weight decay (default 0.05), warm-up epochs (default min(1, epochs/5)). */
  readonly lr?: number
  readonly weightDecay?: number
  readonly warmupEpochs?: number
  readonly params?: BackboneParams
  /** Called after every step (progress). */
  readonly onStep?: (info: { readonly epoch: number; readonly step: number; readonly loss: number }) => void
}

/** What fine-tuning measured. */
export interface FinetuneResult {
  readonly testAccuracy: number
  readonly finalLoss: number
  readonly steps: number
  readonly seconds: number
}

/** Backbone features → logits graph (training or eval mode). */
export const classifierGraph = (bb: Backbone, classes: number, inputSize: number, batch: number, training: boolean): E.Either<string, Graph> => {
  const b = new GraphBuilder({ training })
  const feats = bb.features(b.input('input', [batch, inputSize, inputSize, bb.inChannels]))
  const last = feats[feats.length - 1]
  if (last === undefined) return E.left(`${bb.name}: the backbone returned no feature maps`)
  const logits = bb.head !== undefined ? bb.head(last, classes) : pipe(last, globalAvgPool, linear('fc', classes))
  return E.mapLeft(formatError)(b.build([['logits', logits]]))
}

const rulesOf = async (backend: FinetuneOptions['backend']): Promise<{ readonly tfName: string; readonly rules: LowerRules }> =>
  backend === 'tfjs-wasm'
    ? { tfName: 'wasm', rules: withOverrides((await import('../backends/tfjs/wasm.js')).wasmRules) }
    : { tfName: 'cpu', rules: withOverrides((await import('../backends/tfjs/cpu.js')).cpuRules) }

type BnNode = Node<'batchNorm' | 'maskedBatchNorm'>

let runCounter = 0

/** Fine-tunes `bb` + head on the train split; returns the test accuracy. `evalBackend` compiles the eval graph. */
export const finetune = async (evalBackend: Backend, bb: Backbone, data: LabelledSplits, o: FinetuneOptions): Promise<E.Either<string, FinetuneResult>> => {
  const t0 = performance.now()
  const k = data.classes.length
  const B = o.batchSize
  const g = classifierGraph(bb, k, o.inputSize, B, true)
  if (E.isLeft(g)) return g
  const init = initParams(g.right, o.seed)
  const merged = o.params === undefined ? E.right({ params: init }) : mergeParams(g.right, init, o.params)
  if (E.isLeft(merged)) return merged
  const { tfName, rules } = await rulesOf(o.backend)
  const prepared: E.Either<string, PreparedTfjs> = E.mapLeft(formatError)(prepareTfjs(o.backend, rules)(g.right, { inputShapes: { input: [B, o.inputSize, o.inputSize, bb.inChannels] }, params: merged.right.params }))
  if (E.isLeft(prepared)) return prepared
  await activate(tfName)
  activateSync(tfName)
  const params = graphParams(g.right)
  const vars = new Map<NodeId, tf.Variable>()
  const byName = new Map<string, tf.Variable>()
  const run = runCounter++
  for (const p of params) {
    const h = merged.right.params.get(p.params.name)
    if (h === undefined) continue
    const t = tf.tensor(h.data, [...h.shape], 'float32')
    const v = tf.variable(t, p.params.trainable, `sparkts_finetune_${run}_${p.id}`)
    t.dispose()
    vars.set(p.id, v)
    byName.set(p.params.name, v)
  }
  const trainable = params.filter((p) => p.params.trainable)
  const trainVars = trainable.map((p) => vars.get(p.id)).filter((v): v is tf.Variable => v !== undefined)
  const groups = sparkParamGroups(params.map((p) => p.params))
  const opt = createAdamW({ betas: [0.9, 0.999] })
  if (E.isLeft(opt)) return E.left(opt.left.message)
  const stepsPer = stepsPerEpoch(data.train.size, B)
  const total = stepsPer * o.epochs
  const sched = { peakLr: o.lr ?? 2e-3, warmupIters: Math.round((o.warmupEpochs ?? Math.min(1, o.epochs / 5)) * stepsPer), totalIters: total }
  let seed = o.seed >>> 0
  let finalLoss = NaN
  try {
    for (let e = 0; e < o.epochs; e++)
      for (let s = 0; s < stepsPer; s++) {
        const batch = trainBatch(data.train, { seed: o.seed, batchSize: B, inputSize: o.inputSize }, e, s)
        if (E.isLeft(batch)) return batch
        const labels = batch.right.labels ?? new Int32Array(B)
        const kept: Array<{ readonly n: BnNode; readonly s: BatchStats }> = []
        const ctx: RunCtx = {
          nextSeed: () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0),
          onBatchStats: (n, st) => kept.push({ n, s: { mean: tf.keep(st.mean), biasedVar: tf.keep(st.biasedVar), count: typeof st.count === 'number' ? st.count : tf.keep(st.count) } }),
        }
        const { value, grads } = tf.variableGrads(() => {
          const [z] = prepared.right.evaluate(prepared.right.bindInputs(new Map([['input', batch.right.input]]), vars), ctx)
          if (z === undefined) throw new Error('internal: no logits')
          return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), k), z) as tf.Scalar
        }, trainVars)
        finalLoss = (await value.data())[0] ?? NaN
        const gmap = new Map<string, tf.Tensor>()
        for (const p of trainable) {
          const v = vars.get(p.id)
          const gr = v === undefined ? undefined : grads[v.name]
          if (gr !== undefined) gmap.set(p.params.name, gr)
        }
        const it = e * stepsPer + s
        const stepped = Number.isFinite(finalLoss) ? opt.right.step(byName, gmap, groupsAt(groups, lrAt(sched, it), o.weightDecay ?? 0.05)) : E.right(undefined)
        tf.tidy(() => {
          for (const { n, s: st } of kept) {
            const [rmId, rvId] = n.op === 'batchNorm' ? [n.inputs[3], n.inputs[4]] : [n.inputs[4], n.inputs[5]]
            const rm = rmId === undefined ? undefined : vars.get(rmId)
            const rv = rvId === undefined ? undefined : vars.get(rvId)
            if (rm === undefined || rv === undefined || !Number.isFinite(finalLoss)) continue
            const mom = n.params.momentum
            const cnt = typeof st.count === 'number' ? tf.scalar(st.count) : st.count
            rm.assign(tf.add(tf.mul(rm, 1 - mom), tf.mul(st.mean, mom)))
            rv.assign(tf.add(tf.mul(rv, 1 - mom), tf.mul(tf.mul(st.biasedVar, tf.div(cnt, tf.maximum(tf.sub(cnt, 1), 1))), mom)))
          }
        })
        tf.dispose([value, ...Object.values(grads), ...kept.flatMap(({ s: st }) => [st.mean, st.biasedVar, ...(typeof st.count === 'number' ? [] : [st.count])])])
        if (E.isLeft(stepped)) return E.left(stepped.left.message)
        if (!Number.isFinite(finalLoss)) return E.left(`fine-tuning loss became ${finalLoss} at epoch ${e}, step ${s}`)
        o.onStep?.({ epoch: e, step: s, loss: finalLoss })
      }
    const trained = new Map<string, HostTensor>([...byName].map(([n, v]) => [n, { shape: [...v.shape], data: new Float32Array(v.dataSync()) }]))
    const acc = await evaluate(evalBackend, bb, data, o.inputSize, trained)
    return E.map((a: number) => ({ testAccuracy: a, finalLoss, steps: total, seconds: (performance.now() - t0) / 1000 }))(acc)
  } finally {
    opt.right.dispose()
    for (const v of vars.values()) v.dispose()
  }
}

/** Test accuracy of the eval-mode classifier with the given parameters. */
export const evaluate = async (backend: Backend, bb: Backbone, data: LabelledSplits, inputSize: number, params: ReadonlyMap<string, HostTensor>, batch = 250): Promise<E.Either<string, number>> => {
  const g = classifierGraph(bb, data.classes.length, inputSize, batch, false)
  if (E.isLeft(g)) return g
  const exe = backend.compile(g.right, { inputShapes: { input: [batch, inputSize, inputSize, bb.inChannels] }, params })
  if (E.isLeft(exe)) return E.left(formatError(exe.left))
  try {
    const pred = new Int32Array(data.test.size)
    for (let start = 0; start < data.test.size; start += batch) {
      const eb = evalBatch(data.test, inputSize, start, batch)
      if (E.isLeft(eb)) return eb
      const input = new Float32Array(batch * inputSize * inputSize * bb.inChannels)
      input.set(eb.right.input.data)
      const z = (await exe.right.run(new Map([['input', { shape: [batch, inputSize, inputSize, bb.inChannels], data: input }]]))).get('logits')
      if (z === undefined) return E.left('internal: no logits')
      const k = z.shape[1] ?? 1
      for (let i = 0; i < eb.right.indices.length; i++) {
        let best = 0
        for (let c = 1; c < k; c++) if ((z.data[i * k + c] ?? 0) > (z.data[i * k + best] ?? 0)) best = c
        pred[start + i] = best
      }
    }
    return E.right(accuracy(pred, data.test.labels ?? new Int32Array(0)))
  } finally {
    exe.right.dispose()
  }
}
