// The `sparkts pretrain` checkpoint format: two safetensors files in the run directory, each written
// atomically (temp file + rename, src/bundle/fs.ts), so a kill at any moment leaves the previous good file.
//
// checkpoint.safetensors — everything needed to resume bit-identically:
//   tensors  `sparse_encoder.sp_cnn.<name>`  backbone parameters and BN running statistics
//            `densify_norms.*`, `densify_projs.*`, `mask_tokens.*`, `dense_decoder.*`  the rest of SparK
//            `optimizer.<param>.exp_avg|exp_avg_sq|step`  the optimiser state (optimizer-state.ts)
//   metadata `format` = sparkts-pretrain, `version` = 1, `layout` = sparkts (conv HWIO, conv-transpose
//            (kh,kw,out,in), linear (in,out), mask tokens (C) — NOT PyTorch's layouts), `arch`,
//            `input_size`, `config` (SparK's config dict as JSON: mask_ratio, densify_norm_str,
//            dense_decoder.width, sparse_encoder.input_size), `iteration` (optimiser steps done), `epoch`
//            (whole epochs done), `seed`, `options` (every option of the run, JSON), `losses` (the loss of
//            every step done, JSON), `sparkts.optimizer` (lamb | adamw).
// backbone.safetensors — the backbone alone, bare PyTorch names (`conv1.weight`, `layer1.0.bn1.running_mean`,
//   …), sparkts layout, float32, metadata `format` = sparkts-backbone, `layout`, `arch`, `input_size`,
//   `in_channels`: what `sparkts probe/finetune --checkpoint` read (src/eval/weights.ts).
// Names are the SparK graph's parameter names; the encoder prefix is added on write and removed on read.

import * as E from 'fp-ts/lib/Either.js'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../bundle/fs.js'
import { formatCheckpointError } from '../checkpoint/errors.js'
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.js'
import type { TensorData } from '../checkpoint/types.js'
import { toFloat32 } from '../checkpoint/types.js'
import { SPARK_ENCODER_PREFIX } from '../convert/keys.js'
import type { HostTensor } from '../ir/types.js'
import { flattenOptimizerState, optimizerKindKey, unflattenOptimizerState } from './optimizer-state.js'
import type { TrainState } from './step.js'

/** File of the resumable checkpoint inside the run directory. */
export const CHECKPOINT_FILE = 'checkpoint.safetensors'
/** File of the backbone-only weights inside the run directory. */
export const BACKBONE_FILE = 'backbone.safetensors'
/** Value of the `format` metadata entry of a pretraining checkpoint. */
export const CHECKPOINT_FORMAT = 'sparkts-pretrain'
/** Version of the checkpoint format. */
export const CHECKPOINT_VERSION = '1'

const OPT_PREFIX = 'optimizer.'
const SPARK_OWN = /^(densify_norms|densify_projs|mask_tokens|dense_decoder)\./

/** Every option that determines a run (stored in the checkpoint; resuming reuses them). */
export interface PretrainRunOptions {
  /** Zoo name or module path. */
  readonly model: string
  /** Image folder, or undefined for the built-in data. */
  readonly data?: string
  readonly inputSize: number
  readonly batchSize: number
  readonly epochs: number
  readonly maskRatio: number
  /** Peak learning rate (after warm-up). */
  readonly lr: number
  /** Warm-up length as a fraction of all iterations. */
  readonly warmup: number
  readonly wd: number
  readonly wdEnd: number
  readonly beta2: number
  readonly decoderWidth: number
  readonly densifyNorm: 'bn' | 'ln' | 'none'
  readonly seed: number
}

/** A pretraining checkpoint in memory. */
export interface PretrainCheckpoint {
  readonly options: PretrainRunOptions
  /** Backbone name (Backbone.name). */
  readonly arch: string
  /** Completed epochs (floor(iteration / iterations per epoch)). */
  readonly epoch: number
  readonly state: TrainState
  /** Loss of every completed step, in order (length = state.iteration). */
  readonly losses: ReadonlyArray<number>
}

const f32 = (t: HostTensor): TensorData => ({ dtype: 'F32', shape: [...t.shape], data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) })

const fileKey = (name: string): string => (SPARK_OWN.test(name) ? name : `${SPARK_ENCODER_PREFIX}${name}`)

/** True for a SparK graph parameter of the backbone (not densify, mask token or decoder). */
export const isBackboneParam = (name: string): boolean => !SPARK_OWN.test(name)

/** SparK's config dict of a run, as written under `config`. */
const configOf = (o: PretrainRunOptions): Record<string, unknown> => ({
  mask_ratio: o.maskRatio,
  densify_norm_str: o.densifyNorm,
  'dense_decoder.width': o.decoderWidth,
  'sparse_encoder.input_size': o.inputSize,
})

/** The checkpoint as safetensors bytes. */
export const encodeCheckpoint = (c: PretrainCheckpoint): E.Either<string, Uint8Array> => {
  const tensors = new Map<string, TensorData>()
  for (const [n, t] of c.state.params) tensors.set(fileKey(n), f32(t))
  const opt = flattenOptimizerState(c.state.optimizer)
  for (const [n, t] of opt.tensors) tensors.set(`${OPT_PREFIX}${n}`, f32(t))
  const meta: Record<string, string> = {
    ...opt.metadata,
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    layout: 'sparkts',
    arch: c.arch,
    input_size: String(c.options.inputSize),
    config: JSON.stringify(configOf(c.options)),
    iteration: String(c.state.iteration),
    epoch: String(c.epoch),
    seed: String(c.options.seed),
    options: JSON.stringify(c.options),
    losses: JSON.stringify(c.losses),
  }
  return E.mapLeft(formatCheckpointError)(writeSafetensors(tensors, meta))
}

const parseJson = (what: string, s: string | undefined): E.Either<string, unknown> => {
  if (s === undefined) return E.left(`no '${what}' metadata`)
  try {
    return E.right(JSON.parse(s))
  } catch {
    return E.left(`metadata '${what}' is not JSON`)
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const num = (v: Record<string, unknown>, k: string): number | undefined => {
  const x = v[k]
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined
}

const checkOptions = (v: unknown): E.Either<string, PretrainRunOptions> => {
  if (!isRecord(v) || typeof v['model'] !== 'string') return E.left("metadata 'options' lacks the model")
  const data = v['data']
  if (data !== undefined && typeof data !== 'string') return E.left("metadata 'options': 'data' must be a path")
  const dn = v['densifyNorm']
  if (dn !== 'bn' && dn !== 'ln' && dn !== 'none') return E.left("metadata 'options': bad 'densifyNorm'")
  const [inputSize, batchSize, epochs, maskRatio, lr, warmup, wd, wdEnd, beta2, decoderWidth, seed] = (
    ['inputSize', 'batchSize', 'epochs', 'maskRatio', 'lr', 'warmup', 'wd', 'wdEnd', 'beta2', 'decoderWidth', 'seed'] as const
  ).map((k) => num(v, k))
  if (inputSize === undefined || batchSize === undefined || epochs === undefined || maskRatio === undefined || lr === undefined || warmup === undefined)
    return E.left("metadata 'options' lacks a numeric size, batch, epochs, mask ratio, lr or warm-up")
  if (wd === undefined || wdEnd === undefined || beta2 === undefined || decoderWidth === undefined || seed === undefined)
    return E.left("metadata 'options' lacks a numeric wd, wdEnd, beta2, decoder width or seed")
  const base: PretrainRunOptions = { model: v['model'], inputSize, batchSize, epochs, maskRatio, lr, warmup, wd, wdEnd, beta2, decoderWidth, densifyNorm: dn, seed }
  return E.right(data === undefined ? base : { ...base, data })
}

/** Reads checkpoint bytes back; Left (one line) when they are not a sparkts pretraining checkpoint. */
export const decodeCheckpoint = (bytes: Uint8Array): E.Either<string, PretrainCheckpoint> => {
  const st = readSafetensors(bytes)
  if (E.isLeft(st)) return E.left(formatCheckpointError(st.left))
  const md = st.right.metadata
  if (md['format'] !== CHECKPOINT_FORMAT) return E.left(`not a sparkts pretraining checkpoint (metadata format ${JSON.stringify(md['format'])})`)
  if (md['version'] !== CHECKPOINT_VERSION) return E.left(`unsupported checkpoint version ${JSON.stringify(md['version'])} (expected ${CHECKPOINT_VERSION})`)
  const opts = E.chain(checkOptions)(parseJson('options', md['options']))
  if (E.isLeft(opts)) return opts
  const losses = parseJson('losses', md['losses'])
  if (E.isLeft(losses)) return losses
  const ls = losses.right
  if (!Array.isArray(ls) || !ls.every((x) => typeof x === 'number')) return E.left("metadata 'losses' must be a list of numbers")
  const iteration = Number(md['iteration'])
  const epoch = Number(md['epoch'])
  if (!Number.isSafeInteger(iteration) || iteration < 0 || !Number.isSafeInteger(epoch) || epoch < 0) return E.left('bad iteration or epoch metadata')
  if (ls.length !== iteration) return E.left(`metadata 'losses' has ${ls.length} entries for ${iteration} iterations`)
  const params = new Map<string, HostTensor>()
  const optTensors = new Map<string, HostTensor>()
  for (const [k, t] of st.right.tensors) {
    const h = { shape: [...t.shape], data: toFloat32(t) }
    if (k.startsWith(OPT_PREFIX)) optTensors.set(k.slice(OPT_PREFIX.length), h)
    else params.set(k.startsWith(SPARK_ENCODER_PREFIX) ? k.slice(SPARK_ENCODER_PREFIX.length) : k, h)
  }
  const optimizer = unflattenOptimizerState({ tensors: optTensors, metadata: { [optimizerKindKey]: md[optimizerKindKey] ?? '' } })
  if (E.isLeft(optimizer)) return E.left(`optimiser state: ${optimizer.left.message}`)
  return E.right({ options: opts.right, arch: md['arch'] ?? opts.right.model, epoch, state: { params, optimizer: optimizer.right, iteration }, losses: ls as ReadonlyArray<number> })
}

/** The backbone-only weights file (bare names, sparkts layout) of a checkpoint. */
export const encodeBackbone = (c: PretrainCheckpoint, inChannels: number): E.Either<string, Uint8Array> => {
  const tensors = new Map<string, TensorData>()
  for (const [n, t] of c.state.params) if (isBackboneParam(n)) tensors.set(n, f32(t))
  const meta = { format: 'sparkts-backbone', layout: 'sparkts', arch: c.arch, input_size: String(c.options.inputSize), in_channels: String(inChannels), iteration: String(c.state.iteration) }
  return E.mapLeft(formatCheckpointError)(writeSafetensors(tensors, meta))
}

/** Writes both files into `dir`, each atomically (checkpoint first); Right = their paths. */
export const writeCheckpoint = async (dir: string, c: PretrainCheckpoint, inChannels: number): Promise<E.Either<string, { readonly checkpoint: string; readonly backbone: string }>> => {
  const ck = encodeCheckpoint(c)
  if (E.isLeft(ck)) return ck
  const bb = encodeBackbone(c, inChannels)
  if (E.isLeft(bb)) return bb
  const a = await writeFileAtomic(join(dir, CHECKPOINT_FILE), ck.right)
  if (E.isLeft(a)) return a
  const b = await writeFileAtomic(join(dir, BACKBONE_FILE), bb.right)
  if (E.isLeft(b)) return b
  return E.right({ checkpoint: a.right, backbone: b.right })
}

/** Reads `dir/checkpoint.safetensors`; Right(undefined) when there is none. */
export const readCheckpointDir = async (dir: string): Promise<E.Either<string, PretrainCheckpoint | undefined>> => {
  const path = join(dir, CHECKPOINT_FILE)
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(await readFile(path))
  } catch (e) {
    const code = isRecord(e) ? e['code'] : undefined
    return code === 'ENOENT' ? E.right(undefined) : E.left(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`)
  }
  return E.mapLeft((m: string) => `${path}: ${m}`)(decodeCheckpoint(bytes))
}
