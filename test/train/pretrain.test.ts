// The pretraining loop (src/train/pretrain.ts) and its checkpoint format (src/train/checkpoint.ts) at small
// scale: resnet_small on 20 built-in images (2 per class), batch 8 → 3 steps per epoch, 2 epochs, decoder
// width 16, tfjs-wasm. A run killed mid-epoch (kill hook after 4 steps, the last checkpoint being the end of
// epoch 1) and resumed ends bit-identical to an uninterrupted run: every loss, every parameter and
// optimiser moment, and the checkpoint file byte for byte (no tolerance: same backend, same operations).
// A NaN injected into a batch stops the run with one line and leaves the last checkpoint loadable and
// resumable; `stopAt` ends mid-epoch with a checkpoint, a backbone file that fits the backbone graph and a
// picture. Checkpoint encoding round-trips exactly and refuses foreign files.

import * as E from 'fp-ts/lib/Either.js'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { afterAll, describe, expect, it } from 'vitest'
import { writeSafetensors } from '../../src/checkpoint/safetensors.js'
import { loadBuiltinDataset } from '../../src/data/builtin.js'
import { labelledSource, takePerClass } from '../../src/data/source.js'
import { loadSafetensorsParams, mergeParams } from '../../src/eval/weights.js'
import { initParams } from '../../src/ir/init.js'
import type { HostTensor } from '../../src/ir/types.js'
import { buildBackbone } from '../../src/models/backbone.js'
import { zoo } from '../../src/models/zoo.js'
import { buildSpark } from '../../src/spark/spark.js'
import type { PretrainCheckpoint, PretrainRunOptions } from '../../src/train/checkpoint.js'
import { BACKBONE_FILE, CHECKPOINT_FILE, decodeCheckpoint, encodeCheckpoint, isBackboneParam, readCheckpointDir } from '../../src/train/checkpoint.js'
import type { PretrainConfig, PretrainHooks, PretrainProgress, PretrainResult } from '../../src/train/pretrain.js'
import { pretrain } from '../../src/train/pretrain.js'

const ds = loadBuiltinDataset()
if (E.isLeft(ds)) throw new Error(ds.left)
const train = labelledSource('mini-train', takePerClass(ds.right.train, 2))
const val = labelledSource('mini-val', takePerClass(ds.right.test, 1))
const entry = zoo['resnet_small']
if (entry === undefined) throw new Error('resnet_small missing from the zoo')
const backbone = entry.create()

const options: PretrainRunOptions = {
  model: 'resnet_small', inputSize: 32, batchSize: 8, epochs: 2, maskRatio: 0.6, lr: 0.01, warmup: 0.2,
  wd: 0.04, wdEnd: 0.2, beta2: 0.95, decoderWidth: 16, densifyNorm: 'bn', seed: 5,
}

const dirs: string[] = []
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'sparkts-pretrain-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const config = (out: string, extra: Partial<PretrainConfig> = {}): PretrainConfig => ({ out, options, backbone, train, val, backend: 'tfjs-wasm', valCount: 2, ...extra })

const runOk = async (c: PretrainConfig, h: PretrainHooks = {}): Promise<PretrainResult> => {
  const r = await pretrain(c, h)
  if (E.isLeft(r)) throw new Error(r.left)
  return r.right
}

const bitsEqual = (a: HostTensor | undefined, b: HostTensor | undefined): boolean =>
  a !== undefined && b !== undefined && a.data.length === b.data.length && a.data.every((v, i) => Object.is(v, b.data[i]))

const readCk = async (dir: string): Promise<PretrainCheckpoint> => {
  const c = await readCheckpointDir(dir)
  if (E.isLeft(c)) throw new Error(c.left)
  if (c.right === undefined) throw new Error(`no checkpoint in ${dir}`)
  return c.right
}

describe('pretrain: kill and resume', () => {
  it('a run killed mid-epoch and resumed ends bit-identical to an uninterrupted run (losses, params, optimiser, checkpoint bytes)', async () => {
    const a = await runOk(config(tmp()))
    expect(a.status).toBe('finished')
    expect(a.losses).toHaveLength(6)
    expect(a.losses.every(Number.isFinite)).toBe(true)
    expect(new Set(a.losses).size).toBe(6) // distinct batches and masks, not one repeated step

    const dirB = tmp()
    const killed = await runOk(config(dirB), { kill: (it) => it === 4 })
    expect(killed.status).toBe('killed')
    expect(killed.losses).toEqual(a.losses.slice(0, 4))
    const ck = await readCk(dirB)
    expect(ck.state.iteration).toBe(3) // the end of epoch 1; step 4 was lost with the kill
    expect(ck.epoch).toBe(1)
    expect(ck.losses).toEqual(a.losses.slice(0, 3))

    const b = await runOk(config(dirB, { resume: ck }))
    expect(b.status).toBe('finished')
    expect(b.losses.every((l, i) => Object.is(l, a.losses[i]))).toBe(true)
    expect(b.losses).toHaveLength(6)
    const differing = [...a.state.params.keys()].filter((k) => !bitsEqual(a.state.params.get(k), b.state.params.get(k)))
    expect(differing).toEqual([])
    const g = buildSpark(backbone, { decoderWidth: 16, training: true, inputSize: 32, batch: 8 })
    if (E.isLeft(g)) throw new Error('buildSpark failed')
    const init = initParams(g.right.graph, options.seed)
    const moved = [...init.keys()].filter((k) => !bitsEqual(init.get(k), a.state.params.get(k)))
    expect(moved.length).toBeGreaterThan(init.size / 2) // training changed the parameters, so equality is not vacuous
    for (const [k, m] of a.state.optimizer.params) {
      const mb = b.state.optimizer.params.get(k)
      expect(bitsEqual(m.m, mb?.m) && bitsEqual(m.v, mb?.v) && m.step === mb?.step, k).toBe(true)
    }
    const bytesA = readFileSync(a.checkpoint ?? '')
    const bytesB = readFileSync(b.checkpoint ?? '')
    expect(Buffer.compare(bytesA, bytesB)).toBe(0)
  }, 120_000)
})

const nanAt = (at: number) => (x: HostTensor, it: number): HostTensor => {
  if (it !== at) return x
  const data = x.data.slice()
  data[0] = Number.NaN
  return { shape: x.shape, data }
}

describe('pretrain: a non-finite loss', () => {
  it('a NaN injected into a batch stops the run with one line; the last checkpoint still loads and resumes', async () => {
    const dir = tmp()
    const r = await pretrain(config(dir), { transformBatch: nanAt(4) })
    expect(E.isLeft(r)).toBe(true)
    const msg = E.isLeft(r) ? r.left : ''
    expect(msg).toMatch(/^loss is NaN at epoch 2 step 2 \(iteration 5\); stopped: the last good checkpoint is .*checkpoint\.safetensors \(after 3 steps\)$/)
    expect(msg).not.toContain('\n')
    const ck = await readCk(dir)
    expect(ck.state.iteration).toBe(3)
    expect([...ck.state.params.values()].every((t) => t.data.every(Number.isFinite))).toBe(true)
    const bb = loadSafetensorsParams(join(dir, BACKBONE_FILE))
    expect(E.isRight(bb)).toBe(true)
    const resumed = await runOk(config(dir, { resume: ck, stopAt: 4 }))
    expect(resumed.status).toBe('stopped')
    expect(resumed.losses.every(Number.isFinite)).toBe(true)
    expect((await readCk(dir)).state.iteration).toBe(4)
  }, 120_000)

  it('a NaN before the first checkpoint says that none was written, and writes none', async () => {
    const dir = tmp()
    const r = await pretrain(config(dir), { transformBatch: nanAt(0) })
    expect(E.isLeft(r) ? r.left : '').toMatch(/^loss is NaN at epoch 1 step 1 \(iteration 1\); stopped: no checkpoint was written yet$/)
    expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(false)
  }, 60_000)
})

describe('pretrain: stopping early, files, progress', () => {
  it('stopAt ends mid-epoch with a checkpoint, a backbone file that fits the backbone graph and a picture; progress is reported per step', async () => {
    const dir = tmp()
    const seen: PretrainProgress[] = []
    let clock = 0
    const events: string[] = []
    const r = await runOk(config(dir, { stopAt: 2 }), { now: () => (clock += 1000), onProgress: (p) => seen.push(p), onEvent: (l) => events.push(l) })
    expect(r.status).toBe('stopped')
    expect(r.iteration).toBe(2)
    expect(seen.map((p) => p.iteration)).toEqual([1, 2])
    expect(seen.every((p) => p.stopAt === 2 && p.stepsPerEpoch === 3 && p.imagesPerSecond > 0 && Number.isFinite(p.loss) && p.lr > 0)).toBe(true)
    expect(seen[1]?.etaSeconds).toBe(0)
    expect(seen[0]?.etaSeconds).toBeGreaterThan(0)
    expect(events).toEqual([]) // no epoch ended
    const ck = await readCk(dir)
    expect(ck.state.iteration).toBe(2)
    expect(ck.epoch).toBe(0)
    expect(ck.options).toEqual(options)
    // backbone.safetensors: exactly the backbone's parameters (bare names), equal to the checkpoint's
    const bbFile = loadSafetensorsParams(join(dir, BACKBONE_FILE))
    if (E.isLeft(bbFile)) throw new Error(bbFile.left)
    const model = buildBackbone(backbone, { inputSize: 32, batch: 1 })
    if (E.isLeft(model)) throw new Error('buildBackbone failed')
    const names = [...initParams(model.right.graph, 0).keys()].sort()
    expect([...bbFile.right.keys()].sort()).toEqual(names)
    expect(names.every((n) => bitsEqual(bbFile.right.get(n), ck.state.params.get(n)))).toBe(true)
    const merged = mergeParams(model.right.graph, initParams(model.right.graph, 0), bbFile.right)
    expect(E.isRight(merged) ? merged.right.report.loaded : 0).toBe(names.length)
    // the picture: 2 validation images, rows of three 96 px panels with 4 px gaps
    const png = PNG.sync.read(readFileSync(join(dir, 'recon', 'final.png')))
    expect([png.width, png.height]).toEqual([3 * 96 + 2 * 4, 2 * 96 + 4])
    expect(r.pictures).toEqual([join(dir, 'recon', 'final.png')])
  }, 120_000)
})

describe('checkpoint format', () => {
  const state = {
    params: new Map<string, HostTensor>([
      ['conv1.weight', { shape: [3, 3, 1, 2], data: Float32Array.from({ length: 18 }, (_, i) => i / 7 - 1) }],
      ['bn1.running_var', { shape: [2], data: Float32Array.of(1.5, Number.MIN_VALUE) }],
      ['dense_decoder.proj.bias', { shape: [1], data: Float32Array.of(-0.25) }],
    ]),
    optimizer: { kind: 'lamb' as const, params: new Map([['conv1.weight', { m: { shape: [3, 3, 1, 2], data: new Float32Array(18).fill(0.125) }, v: { shape: [3, 3, 1, 2], data: new Float32Array(18).fill(3) }, step: 7 }]]) },
    iteration: 7,
  }
  const ck: PretrainCheckpoint = { options: { ...options, data: '/some/folder' }, arch: 'resnet_small', epoch: 2, state, losses: [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4] }

  it('round-trips exactly (encoder keys stored under sparse_encoder.sp_cnn., decoder keys bare)', () => {
    const bytes = encodeCheckpoint(ck)
    if (E.isLeft(bytes)) throw new Error(bytes.left)
    const back = decodeCheckpoint(bytes.right)
    if (E.isLeft(back)) throw new Error(back.left)
    expect(back.right.options).toEqual(ck.options)
    expect(back.right.losses).toEqual(ck.losses)
    expect([back.right.epoch, back.right.state.iteration, back.right.arch]).toEqual([2, 7, 'resnet_small'])
    expect([...state.params.keys()].every((k) => bitsEqual(state.params.get(k), back.right.state.params.get(k)))).toBe(true)
    const m = back.right.state.optimizer.params.get('conv1.weight')
    expect(back.right.state.optimizer.kind).toBe('lamb')
    expect(m?.step).toBe(7)
    expect(bitsEqual(m?.v, state.optimizer.params.get('conv1.weight')?.v)).toBe(true)
    const header = new TextDecoder().decode(bytes.right.subarray(8, 8 + Number(new DataView(bytes.right.buffer, bytes.right.byteOffset).getBigUint64(0, true))))
    expect(header).toContain('"sparse_encoder.sp_cnn.conv1.weight"')
    expect(header).toContain('"dense_decoder.proj.bias"')
    expect(isBackboneParam('layer1.0.conv1.weight') && !isBackboneParam('mask_tokens.0')).toBe(true)
  })

  it('refuses files that are not sparkts pretraining checkpoints, or whose losses do not match the iteration', () => {
    const plain = writeSafetensors(new Map([['w', { dtype: 'F32', shape: [1], data: Float32Array.of(1) }]]), { format: 'pt' })
    if (E.isLeft(plain)) throw new Error('write failed')
    expect(E.isLeft(decodeCheckpoint(plain.right)) ? (decodeCheckpoint(plain.right) as E.Left<string>).left : '').toMatch(/not a sparkts pretraining checkpoint/)
    const short = encodeCheckpoint({ ...ck, losses: [1, 2] })
    if (E.isLeft(short)) throw new Error(short.left)
    const r = decodeCheckpoint(short.right)
    expect(E.isLeft(r) ? r.left : '').toMatch(/'losses' has 2 entries for 7 iterations/)
  })
})
