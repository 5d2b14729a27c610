// The training step's contract on a tiny SparK model (tinyResnet16 at 32 px, decoder width 16, batch 2):
// no tensor leaks across steps (wasm and cpu), a NaN loss is returned as data and changes nothing, lr 0
// leaves every trainable tensor bit-identical while the BN running statistics still move, a checkpoint
// (exportState → importState) resumes bit-identically, invalid inputs and states are refused without
// side effects, and AdamW trains too. Agreement with the official numbers is in step-agreement.test.ts.

import * as E from 'fp-ts/lib/Either.js'
import { afterAll, describe, expect, it } from 'vitest'
import type { TensorMap } from '../../src/backends/backend.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { formatError } from '../../src/ir/errors.js'
import { initParams } from '../../src/ir/init.js'
import type { HostTensor } from '../../src/ir/types.js'
import { randomMask } from '../../src/spark/mask.js'
import { buildSpark } from '../../src/spark/spark.js'
import { sparkLamb } from '../../src/train/optimizer-lamb.js'
import type { OptimizerSpec, Trainer, TrainBackend, TrainState } from '../../src/train/step.js'
import { createTrainer, formatTrainError } from '../../src/train/step.js'
import { syntheticImages, tinyResnet16 } from './step-helpers.js'

const size = 32
const batch = 2
const built = buildSpark(tinyResnet16, { decoderWidth: 16, training: true, inputSize: size, batch })
if (E.isLeft(built)) throw new Error(formatError(built.left))
const graph = built.right.graph
const init = initParams(graph, 3)
const shapes = { input: [batch, size, size, 3], mask: [batch, size / 16, size / 16, 1] }
const lamb: OptimizerSpec = { kind: 'lamb', config: sparkLamb(0.95) }

const batchAt = (i: number): TensorMap => {
  const mask = randomMask({ batch, h: size / 16, ratio: 0.5, seed: 100 + i })
  if (E.isLeft(mask)) throw new Error(mask.left.message)
  return new Map([['input', syntheticImages(batch, size, 10 + i)], ['mask', mask.right]])
}

const make = async (backend: TrainBackend = 'tfjs-wasm', optimizer: OptimizerSpec = lamb): Promise<Trainer> => {
  const t = await createTrainer(graph, { backend, inputShapes: shapes, params: init, optimizer })
  if (E.isLeft(t)) throw new Error(formatTrainError(t.left))
  return t.right
}

const stepOk = async (t: Trainer, i: number, lr = 0.01, wd = 0.04): Promise<number> => {
  const r = await t.step(batchAt(i), { lr, wd })
  if (E.isLeft(r)) throw new Error(r.left.message)
  expect(r.right.applied).toBe(true)
  return r.right.loss
}

const bitsEqual = (a: HostTensor | undefined, b: HostTensor | undefined): boolean =>
  a !== undefined && b !== undefined && a.data.length === b.data.length && a.data.every((v, i) => Object.is(v, b.data[i]))

/** Names whose tensors differ bit-wise between two states. */
const changed = (a: TrainState, b: TrainState): string[] => [...a.params.keys()].filter((k) => !bitsEqual(a.params.get(k), b.params.get(k)))

const isStat = (n: string): boolean => /running_(mean|var)$/.test(n)

afterAll(() => {
  tf.disposeVariables()
})

describe('training step contract', () => {
  it.each<TrainBackend>(['tfjs-wasm', 'tfjs-cpu'])('%s: numTensors is constant across steps (and a refused step) and back to the start after dispose', async (backend) => {
    const before = tf.memory().numTensors
    const t = await make(backend)
    const losses = [await stepOk(t, 0)] // the first step creates the optimiser moments
    const settled = tf.memory().numTensors
    expect(settled).toBeGreaterThan(before)
    for (let i = 1; i < 3; i++) {
      losses.push(await stepOk(t, i))
      expect(tf.memory().numTensors, `after step ${i}`).toBe(settled)
    }
    const bad = await t.step(new Map([['input', { shape: [1, 2, 3], data: new Float32Array(6) }]]), { lr: 0.01, wd: 0.04 })
    expect(E.isLeft(bad)).toBe(true)
    expect(tf.memory().numTensors).toBe(settled)
    expect(losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true)
    t.dispose()
    expect(tf.memory().numTensors).toBe(before)
  }, 120_000)

  it('a NaN loss is reported as data and changes nothing (parameters, statistics, optimiser, counter)', async () => {
    const t = await make()
    await stepOk(t, 0)
    const s0 = t.exportState()
    const n0 = tf.memory().numTensors
    const inputs = new Map(batchAt(1))
    const img = inputs.get('input')
    if (img === undefined) throw new Error('no input')
    const poisoned = Float32Array.from(img.data)
    poisoned[5] = NaN
    inputs.set('input', { shape: img.shape, data: poisoned })
    const r = await t.step(inputs, { lr: 0.01, wd: 0.04 })
    if (E.isLeft(r)) throw new Error(r.left.message)
    expect(Number.isNaN(r.right.loss)).toBe(true)
    expect(r.right.applied).toBe(false)
    expect(r.right.iteration).toBe(1)
    expect(tf.memory().numTensors).toBe(n0)
    const s1 = t.exportState()
    expect(changed(s0, s1)).toEqual([])
    expect(s1.iteration).toBe(1)
    for (const [n, m] of s0.optimizer.params) {
      const m1 = s1.optimizer.params.get(n)
      expect(m1?.step, n).toBe(m.step)
      expect(bitsEqual(m1?.m, m.m) && bitsEqual(m1?.v, m.v), n).toBe(true)
    }
    // …and the trainer still trains afterwards.
    await stepOk(t, 2)
    expect(changed(s1, t.exportState()).length).toBeGreaterThan(50)
    t.dispose()
  }, 60_000)

  it('lr 0 keeps every trainable tensor bit-identical while every running statistic moves', async () => {
    const t = await make()
    const s0 = t.exportState()
    await stepOk(t, 0, 0, 0.04)
    const diff = changed(s0, t.exportState())
    const stats = [...s0.params.keys()].filter(isStat)
    expect(stats.length).toBeGreaterThan(20)
    expect(diff.sort()).toEqual(stats.sort())
    t.dispose()
  }, 60_000)

  it('exportState → importState resumes bit-identically (fresh trainer, same next step)', async () => {
    const a = await make()
    await stepOk(a, 0)
    const s1 = a.exportState()
    const la = await stepOk(a, 1)
    const sa = a.exportState()
    a.dispose()
    const b = await make()
    expect(E.isRight(b.importState(s1))).toBe(true)
    expect(changed(s1, b.exportState())).toEqual([])
    const lb = await stepOk(b, 1)
    const sb = b.exportState()
    expect(Object.is(la, lb)).toBe(true)
    expect(sb.iteration).toBe(2)
    expect(changed(sa, sb)).toEqual([])
    expect(changed(s1, sb).length).toBeGreaterThan(50)
    b.dispose()
  }, 60_000)

  it('refuses bad hyper-parameters, a misshaped or incomplete state, and a graph without the loss output', async () => {
    const t = await make()
    const s0 = t.exportState()
    expect(E.isLeft(await t.step(batchAt(0), { lr: -1, wd: 0 }))).toBe(true)
    expect(E.isLeft(await t.step(batchAt(0), { lr: NaN, wd: 0 }))).toBe(true)
    const [first] = s0.params.keys()
    if (first === undefined) throw new Error('no params')
    const missing = new Map(s0.params)
    missing.delete(first)
    const r1 = t.importState({ ...s0, params: missing })
    expect(E.isLeft(r1) && r1.left.message).toContain(first)
    const bent = new Map(s0.params)
    bent.set(first, { shape: [1], data: new Float32Array(1) })
    expect(E.isLeft(t.importState({ ...s0, params: bent }))).toBe(true)
    expect(E.isLeft(t.importState({ ...s0, iteration: -1 }))).toBe(true)
    expect(changed(s0, t.exportState())).toEqual([])
    expect(t.exportState().iteration).toBe(0)
    t.dispose()
    const noLoss = await createTrainer(graph, { inputShapes: shapes, params: init, optimizer: lamb, lossOutput: 'nope' })
    expect(E.isLeft(noLoss) && formatTrainError(noLoss.left)).toContain("no output 'nope'")
    const notScalar = await createTrainer(graph, { inputShapes: shapes, params: init, optimizer: lamb, lossOutput: 'reconstruction' })
    expect(E.isLeft(notScalar) && formatTrainError(notScalar.left)).toContain('must be a scalar')
  }, 60_000)

  it('trainer groups are SparK\'s (mask tokens, BN affine and biases undecayed), and AdamW trains too', async () => {
    const t = await make('tfjs-wasm', { kind: 'adamw', config: { betas: [0.9, 0.999] } })
    const [decay, noDecay] = t.groups
    expect(noDecay.names).toContain('mask_tokens.0')
    expect(noDecay.names).toContain('bn1.weight')
    expect(decay.names).toContain('conv1.weight')
    expect(decay.names.concat(noDecay.names).some(isStat)).toBe(false)
    const s0 = t.exportState()
    await stepOk(t, 0, 1e-3, 0.05)
    expect(t.exportState().optimizer.kind).toBe('adamw')
    expect(changed(s0, t.exportState()).length).toBeGreaterThan(50)
    t.dispose()
  }, 60_000)
})
