// The SparK pretraining loop as a library function (`sparkts pretrain` is a thin CLI over it). Everything a
// step sees is a pure function of (options, global iteration): the batch (src/data/pipeline.ts: images and
// augmentation from (seed, epoch, step)), the mask (seeded by (seed, epoch, step)), lr and wd (SparK's
// schedules, schedule.ts, with the warm-up a fraction of all iterations and the peak lr given directly).
// With the trainer's parameters, BN statistics and optimiser state restored from a checkpoint, a resumed run
// therefore repeats an uninterrupted one bit for bit. A checkpoint (train/checkpoint.ts) and a
// reconstruction picture are written at the end of every epoch and when `stopAt` ends the run early; a
// non-finite loss stops the run as a Left, before anything is written, so the last checkpoint stays good.
// The clock, progress reports, a simulated kill and a batch rewrite (e.g. to inject a NaN) are hooks, so
// tests drive the loop without processes or timers.

import * as E from 'fp-ts/lib/Either.js'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { getBackend } from '../backends/index.js'
import { writeFileAtomic } from '../bundle/fs.js'
import { stepsPerEpoch, trainBatch } from '../data/pipeline.js'
import type { ImageSource } from '../data/source.js'
import { formatError } from '../ir/errors.js'
import { initParams } from '../ir/init.js'
import type { HostTensor } from '../ir/types.js'
import type { Backbone } from '../models/backbone.js'
import { randomMask } from '../spark/mask.js'
import { buildSpark } from '../spark/spark.js'
import { hashSeed } from '../util/rng.js'
import type { PretrainCheckpoint, PretrainRunOptions } from './checkpoint.js'
import { BACKBONE_FILE, CHECKPOINT_FILE, writeCheckpoint } from './checkpoint.js'
import { sparkLamb } from './optimizer-lamb.js'
import { prepareValidation, renderValidation } from './pretrain-picture.js'
import { sparkSchedules } from './schedule.js'
import type { TrainBackend, TrainState } from './step.js'
import { createTrainer, formatTrainError, hyperAt } from './step.js'

/** Where the run stands after a step (for progress displays). */
export interface PretrainProgress {
  /** 0-based epoch and step within it of the step just done. */
  readonly epoch: number
  readonly step: number
  readonly epochs: number
  readonly stepsPerEpoch: number
  /** Optimiser steps done (global) and the iteration the run stops at. */
  readonly iteration: number
  readonly stopAt: number
  readonly loss: number
  readonly lr: number
  readonly imagesPerSecond: number
  /** Seconds to `stopAt` at the speed of this session. */
  readonly etaSeconds: number
}

/** Injectable effects (tests substitute them). */
export interface PretrainHooks {
  /** Milliseconds (default Date.now). */
  readonly now?: () => number
  readonly onProgress?: (p: PretrainProgress) => void
  /** Lines worth printing: epoch summaries, checkpoint and picture paths. */
  readonly onEvent?: (line: string) => void
  /** Called after every step with the iterations done; true simulates a kill (stop at once, write nothing). */
  readonly kill?: (iteration: number) => boolean
  /** Rewrites a batch's input before the step (0-based global iteration). */
  readonly transformBatch?: (input: HostTensor, iteration: number) => HostTensor
}

/** A run to do. */
export interface PretrainConfig {
  readonly out: string
  readonly options: PretrainRunOptions
  /** The backbone, already resolved (its inChannels are set to the data's channels here). */
  readonly backbone: Backbone
  readonly train: ImageSource
  /** Validation images (the first `valCount` are shown). */
  readonly val: ImageSource
  readonly backend: TrainBackend
  /** Stop when this many optimiser steps (global, counted from the run's start) are done. */
  readonly stopAt?: number
  readonly resume?: PretrainCheckpoint
  /** Validation images in the picture (default 8). */
  readonly valCount?: number
}

/** What a run did. */
export interface PretrainResult {
  /** finished: all epochs; stopped: `stopAt` reached; killed: the kill hook fired (nothing written). */
  readonly status: 'finished' | 'stopped' | 'killed'
  readonly iteration: number
  readonly totalIterations: number
  readonly stepsPerEpoch: number
  /** Loss of every step of the run (including steps done before a resume). */
  readonly losses: ReadonlyArray<number>
  readonly state: TrainState
  readonly checkpoint?: string
  readonly backbone?: string
  readonly pictures: ReadonlyArray<string>
  readonly seconds: number
}

/** Mean of the per-step losses of every (possibly partial) epoch. */
export const epochMeans = (losses: ReadonlyArray<number>, perEpoch: number): ReadonlyArray<number> =>
  Array.from({ length: Math.ceil(losses.length / perEpoch) }, (_, e) => {
    const xs = losses.slice(e * perEpoch, (e + 1) * perEpoch)
    return xs.reduce((a, b) => a + b, 0) / xs.length
  })

/** The seed of the mask of (epoch, step). */
export const maskSeedOf = (seed: number, epoch: number, step: number): number => hashSeed(`mask:${epoch}:${step}`, seed >>> 0)

const pad = (n: number, w: number): string => String(n).padStart(w, '0')

/** Runs (or resumes) SparK pretraining; Left = one line (bad options, a non-finite loss, an I/O failure). */
export const pretrain = async (c: PretrainConfig, h: PretrainHooks = {}): Promise<E.Either<string, PretrainResult>> => {
  const o = c.options
  const now = h.now ?? Date.now
  const t0 = now()
  const bb = c.backbone.inChannels === c.train.channels ? c.backbone : { ...c.backbone, inChannels: c.train.channels }
  const ds = bb.downsampleRatio
  if (o.inputSize % ds !== 0) return E.left(`input size ${o.inputSize} is not a multiple of ${bb.name}'s downsample ratio ${ds}`)
  if (c.val.channels !== c.train.channels) return E.left(`validation images have ${c.val.channels} channels, training images ${c.train.channels}`)
  const ipe = stepsPerEpoch(c.train.size, o.batchSize)
  const total = o.epochs * ipe
  if (!Number.isSafeInteger(total) || total < 2) return E.left(`a run needs at least 2 optimiser steps (${o.epochs} epoch(s) of ${ipe} step(s))`)
  // Warm-up as a fraction of all iterations, dropped when the run is too short to have one.
  const wpEpochs = Math.round(o.warmup * total) >= total - 1 ? 0 : o.warmup * o.epochs
  const sched = sparkSchedules({ baseLr: (o.lr * 256) / o.batchSize, globalBatch: o.batchSize, epochs: o.epochs, warmupEpochs: wpEpochs, itersPerEpoch: ipe, wd: o.wd, wdEnd: o.wdEnd })
  if (E.isLeft(sched)) return sched
  const model = buildSpark(bb, { decoderWidth: o.decoderWidth, densifyNorm: o.densifyNorm, training: true, inputSize: o.inputSize, batch: o.batchSize })
  if (E.isLeft(model)) return E.left(formatError(model.left))
  const g = model.right.graph
  const val = prepareValidation(bb, c.val, { inputSize: o.inputSize, decoderWidth: o.decoderWidth, densifyNorm: o.densifyNorm, maskRatio: o.maskRatio, count: c.valCount ?? 8, maskSeed: hashSeed('validation-mask', o.seed >>> 0) })
  if (E.isLeft(val)) return val
  const backend = await getBackend(c.backend)
  if (E.isLeft(backend)) return E.left(`backend ${c.backend}: ${backend.left}`)
  const grid = o.inputSize / ds
  const tr = await createTrainer(g, {
    backend: c.backend,
    inputShapes: { input: [o.batchSize, o.inputSize, o.inputSize, c.train.channels], mask: [o.batchSize, grid, grid, 1] },
    params: c.resume?.state.params ?? initParams(g, o.seed),
    optimizer: { kind: 'lamb', config: sparkLamb(o.beta2) },
    seed: o.seed,
  })
  if (E.isLeft(tr)) return E.left(formatTrainError(tr.left))
  const trainer = tr.right
  try {
    if (c.resume !== undefined) {
      const imp = trainer.importState(c.resume.state)
      if (E.isLeft(imp)) return E.left(`cannot resume: ${imp.left.message}`)
    }
    const losses = [...(c.resume?.losses ?? [])]
    const start = c.resume?.state.iteration ?? 0
    const stopAt = Math.min(total, c.stopAt ?? total)
    const reconDir = join(c.out, 'recon')
    try {
      await mkdir(reconDir, { recursive: true })
    } catch (e) {
      return E.left(`cannot create ${reconDir}: ${e instanceof Error ? e.message : String(e)}`)
    }
    const pictures: string[] = []
    let savedAt = c.resume?.state.iteration
    const ckptPath = join(c.out, CHECKPOINT_FILE)

    const picture = async (name: string, state: TrainState): Promise<E.Either<string, string>> => {
      const png = await renderValidation(backend.right, val.right, state.params)
      if (E.isLeft(png)) return png
      const w = await writeFileAtomic(join(reconDir, name), png.right)
      if (E.isRight(w)) pictures.push(w.right)
      return w
    }
    const save = async (it: number): Promise<E.Either<string, TrainState>> => {
      const state = trainer.exportState()
      const ck: PretrainCheckpoint = { options: o, arch: bb.name, epoch: Math.floor(it / ipe), state, losses }
      const w = await writeCheckpoint(c.out, ck, c.train.channels)
      if (E.isLeft(w)) return w
      savedAt = it
      return E.right(state)
    }

    let it = start
    const tStart = now()
    while (it < stopAt) {
      const epoch = Math.floor(it / ipe)
      const step = it % ipe
      const batch = trainBatch(c.train, { seed: o.seed, batchSize: o.batchSize, inputSize: o.inputSize }, epoch, step)
      if (E.isLeft(batch)) return batch
      const mask = randomMask({ batch: o.batchSize, h: grid, ratio: o.maskRatio, seed: maskSeedOf(o.seed, epoch, step) })
      if (E.isLeft(mask)) return E.left(mask.left.message)
      const input = h.transformBatch?.(batch.right.input, it) ?? batch.right.input
      const hyper = hyperAt(sched.right, it)
      const r = await trainer.step(new Map([['input', input], ['mask', mask.right]]), hyper)
      if (E.isLeft(r)) return E.left(r.left.message)
      if (!r.right.applied) {
        const last = savedAt === undefined ? 'no checkpoint was written yet' : `the last good checkpoint is ${ckptPath} (after ${savedAt} steps)`
        return E.left(`loss is ${r.right.loss} at epoch ${epoch + 1} step ${step + 1} (iteration ${it + 1}); stopped: ${last}`)
      }
      losses.push(r.right.loss)
      it += 1
      const secs = Math.max(1e-9, (now() - tStart) / 1000)
      const ips = ((it - start) * o.batchSize) / secs
      h.onProgress?.({ epoch, step, epochs: o.epochs, stepsPerEpoch: ipe, iteration: it, stopAt, loss: r.right.loss, lr: hyper.lr, imagesPerSecond: ips, etaSeconds: ((stopAt - it) * o.batchSize) / ips })
      if (h.kill?.(it) === true) {
        return E.right({ status: 'killed', iteration: it, totalIterations: total, stepsPerEpoch: ipe, losses, state: trainer.exportState(), pictures, seconds: (now() - t0) / 1000 })
      }
      if (it % ipe === 0) {
        const st = await save(it)
        if (E.isLeft(st)) return st
        const p = await picture(`epoch-${pad(epoch + 1, 3)}.png`, st.right)
        if (E.isLeft(p)) return p
        const mean = epochMeans(losses, ipe)[epoch] ?? NaN
        h.onEvent?.(`epoch ${epoch + 1}/${o.epochs}: mean loss ${mean.toFixed(4)}; checkpoint ${ckptPath}; picture ${p.right}`)
      }
    }
    let final: TrainState
    if (savedAt === it) final = trainer.exportState()
    else {
      const s = await save(it)
      if (E.isLeft(s)) return s
      final = s.right
    }
    const p = await picture('final.png', final)
    if (E.isLeft(p)) return p
    const lw = await writeFileAtomic(join(c.out, 'losses.json'), new TextEncoder().encode(`${JSON.stringify({ stepsPerEpoch: ipe, losses })}\n`))
    if (E.isLeft(lw)) return lw
    return E.right({
      status: it >= total ? 'finished' : 'stopped',
      iteration: it,
      totalIterations: total,
      stepsPerEpoch: ipe,
      losses,
      state: final,
      ...(savedAt === undefined ? {} : { checkpoint: ckptPath, backbone: join(c.out, BACKBONE_FILE) }),
      pictures,
      seconds: (now() - t0) / 1000,
    })
  } finally {
    trainer.dispose()
  }
}
