// `sparkts pretrain --out <dir> [...]`: SparK pretraining from the command line (src/train/pretrain.ts) with
// every option defaulted, so `sparkts pretrain --out run` trains `resnet_small` on the built-in
// Fashion-MNIST subset (32 px, 1 channel) for one epoch in a few minutes on 2 cores. Writes into <dir>:
// checkpoint.safetensors (resumable) and backbone.safetensors (for probe/finetune) every epoch
// (train/checkpoint.ts), recon/epoch-NNN.png and recon/final.png, losses.json. `--resume` continues from
// the checkpoint with the options stored in it (giving a different value for one of them is an error).
// Progress goes to stderr: a self-rewriting bar on a terminal, plain lines otherwise (CI logs). The bar
// is a dozen lines of `\r` + erase-line, so no progress-bar dependency is needed.

import * as E from 'fp-ts/lib/Either.js'
import type { Command } from 'commander'
import { InvalidArgumentError, Option } from 'commander'
import { isAbsolute, resolve as resolvePath } from 'node:path'
import { loadImageFolder } from '../data/folder.js'
import type { ImageSource } from '../data/source.js'
import { builtinSource } from '../data/source.js'
import { defaultDensifyNorm } from '../spark/spark.js'
import type { PretrainRunOptions } from '../train/checkpoint.js'
import { readCheckpointDir } from '../train/checkpoint.js'
import type { PretrainProgress } from '../train/pretrain.js'
import { epochMeans, pretrain } from '../train/pretrain.js'
import type { TrainBackend } from '../train/step.js'
import { intAtLeast } from './options.js'
import { looksLikePath, resolveModel } from './resolve.js'
import { maskRatio } from './verify.js'
import type { CommandContext } from './context.js'

/** Defaults of `sparkts pretrain` (see the README for why). */
export const PRETRAIN_DEFAULTS = {
  model: 'resnet_small',
  inputSize: 32,
  batchSize: 32,
  epochs: 1,
  maskRatio: 0.6,
  lr: 0.03,
  warmup: 0.05,
  wd: 0.04,
  wdEnd: 0.2,
  decoderWidth: 64,
  seed: 0,
  backend: 'tfjs-wasm' as TrainBackend,
} as const

/** What the command needs from the CLI. */
export interface PretrainContext extends Omit<CommandContext, 'loadBackend'> {
  /** Raw stderr writes when stderr is a terminal (progress bar); undefined = plain lines. */
  readonly errTTY?: ((s: string) => void) | undefined
}

/** Parses a finite number > 0. */
export const positiveNumber = (v: string): number => {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0')
  return n
}

interface CliOptions {
  readonly out: string
  readonly model: string
  readonly data?: string
  readonly inputSize: number
  readonly batchSize: number
  readonly epochs: number
  readonly maskRatio: number
  readonly lr: number
  readonly decoderWidth: number
  readonly backend: TrainBackend
  readonly steps?: number
  readonly seed: number
  readonly resume?: boolean
  readonly json?: boolean
}

/** Options a resumed run takes from its checkpoint, with their flags. */
const STORED: ReadonlyArray<readonly [keyof CliOptions & keyof PretrainRunOptions, string]> = [
  ['model', '--model'], ['data', '--data'], ['inputSize', '--input-size'], ['batchSize', '--batch-size'], ['epochs', '--epochs'],
  ['maskRatio', '--mask-ratio'], ['lr', '--lr'], ['decoderWidth', '--decoder-width'], ['seed', '--seed'],
]

const fmtTime = (s: number): string => (!Number.isFinite(s) ? '?' : s >= 3600 ? `${Math.floor(s / 3600)}h${pad2(Math.floor(s / 60) % 60)}m` : `${Math.floor(s / 60)}m${pad2(Math.floor(s) % 60)}s`)
const pad2 = (n: number): string => String(n).padStart(2, '0')

/** One progress line: epoch, step, bar, loss, lr, images/s, ETA. */
export const progressLine = (p: PretrainProgress, barWidth = 20): string => {
  const done = Math.round((barWidth * p.iteration) / Math.max(1, p.stopAt))
  return `epoch ${p.epoch + 1}/${p.epochs} step ${p.step + 1}/${p.stepsPerEpoch} [${'#'.repeat(done)}${'-'.repeat(barWidth - done)}] ${p.iteration}/${p.stopAt} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.imagesPerSecond.toFixed(1)} img/s ETA ${fmtTime(p.etaSeconds)}`
}

const loadData = (data: string | undefined, warn: (m: string) => void): E.Either<string, { readonly train: ImageSource; readonly val: ImageSource }> => {
  if (data === undefined) {
    const train = builtinSource('train')
    const val = builtinSource('test')
    return E.isLeft(train) ? train : E.isLeft(val) ? val : E.right({ train: train.right, val: val.right })
  }
  const src = loadImageFolder(data, { warn })
  return E.map((s: ImageSource) => ({ train: s, val: s }))(src)
}

/** Adds `pretrain` to the program. */
export const addPretrainCommand = (program: Command, cx: PretrainContext): void => {
  const d = PRETRAIN_DEFAULTS
  const cmd = program
    .command('pretrain')
    .description('SparK pretraining (LAMB, warm-up + cosine lr, cosine wd increase) with a checkpoint and a reconstruction picture every epoch')
    .requiredOption('--out <dir>', 'run directory: checkpoint.safetensors, backbone.safetensors, recon/*.png, losses.json')
    .option('--model <model>', 'a zoo name or a path to a JavaScript module exporting a Backbone', d.model)
    .option('--data <folder>', 'a folder of PNG/JPEG images (default: the built-in Fashion-MNIST subset, 8,000 train images)')
    .option('--input-size <n>', 'image side in pixels (a multiple of the downsample ratio)', intAtLeast(1), d.inputSize)
    .option('--batch-size <n>', 'images per optimiser step', intAtLeast(1), d.batchSize)
    .option('--epochs <n>', 'passes over the data', intAtLeast(1), d.epochs)
    .option('--mask-ratio <r>', 'fraction of patches masked, in (0, 1)', maskRatio, d.maskRatio)
    .option('--lr <lr>', 'peak learning rate after warm-up (SparK: 2e-4 x batch / 256 for 1600 epochs)', positiveNumber, d.lr)
    .option('--decoder-width <n>', 'channels of the first decoder block (SparK: 768)', intAtLeast(1), d.decoderWidth)
    .addOption(new Option('--backend <name>', 'training backend').choices(['tfjs-wasm', 'tfjs-cpu']).default(d.backend))
    .option('--steps <n>', 'stop after n optimiser steps in all (counted from the run start), writing a checkpoint and picture', intAtLeast(1))
    .option('--seed <n>', 'seed of the weights, data order, augmentation and masks', intAtLeast(0), d.seed)
    .option('--resume', 'continue the run in --out from its checkpoint (same options, schedule and data order)')
    .option('--json', 'print the final summary as one JSON object')
    .addHelpText('after', `\nFixed: warm-up ${d.warmup * 100}% of the steps, weight decay ${d.wd} -> ${d.wdEnd} (cosine), LAMB betas (0.9, 0.95 for ResNets else 0.999), densify norm by family.`)
  cmd.action(async (o: CliOptions) => {
    const given = (k: string): boolean => cmd.getOptionValueSource(k) === 'cli'
    const out = resolvePath(cx.cwd, o.out)
    const existing = await readCheckpointDir(out)
    if (E.isLeft(existing)) return cx.fail(existing.left)
    if (o.resume === true && existing.right === undefined) return cx.fail(`--resume: no checkpoint in ${o.out}`)
    if (o.resume !== true && existing.right !== undefined) return cx.fail(`${o.out} already holds a checkpoint; pass --resume to continue it or choose another --out`)
    const abs = (p: string): string => (isAbsolute(p) ? p : resolvePath(cx.cwd, p))
    const resume = existing.right
    if (resume !== undefined)
      for (const [k, flag] of STORED) {
        const v = k === 'data' && o.data !== undefined ? abs(o.data) : k === 'model' && looksLikePath(o.model) ? abs(o.model) : o[k]
        if (given(k) && v !== resume.options[k]) return cx.fail(`--resume: ${flag} ${String(o[k])} differs from the checkpoint's ${String(resume.options[k])} (a resumed run keeps its options)`)
      }
    const modelSpec = resume?.options.model ?? (looksLikePath(o.model) ? abs(o.model) : o.model)
    const bb = await resolveModel(modelSpec, cx.zoo, { cwd: cx.cwd })
    if (E.isLeft(bb)) return cx.fail(bb.left)
    const options: PretrainRunOptions = resume?.options ?? {
      model: modelSpec,
      ...(o.data === undefined ? {} : { data: abs(o.data) }),
      inputSize: o.inputSize,
      batchSize: o.batchSize,
      epochs: o.epochs,
      maskRatio: o.maskRatio,
      lr: o.lr,
      warmup: d.warmup,
      wd: d.wd,
      wdEnd: d.wdEnd,
      beta2: bb.right.family === 'resnet' ? 0.95 : 0.999,
      decoderWidth: o.decoderWidth,
      densifyNorm: defaultDensifyNorm(bb.right.family),
      seed: o.seed,
    }
    const ds = bb.right.downsampleRatio
    if (options.inputSize % ds !== 0) return cx.fail(`input size ${options.inputSize} is not a multiple of ${bb.right.name}'s downsample ratio ${ds}`)
    const data = loadData(options.data, (m) => cx.err(`sparkts pretrain: warning: ${m}`))
    if (E.isLeft(data)) return cx.fail(data.left)
    const { train, val } = data.right
    cx.err(
      `sparkts pretrain: ${bb.right.name} on ${train.name} (${train.size} images, ${train.channels} channel(s)), ${options.inputSize} px, batch ${options.batchSize}, ${options.epochs} epoch(s), mask ${options.maskRatio}, peak lr ${options.lr}, decoder ${options.decoderWidth}, seed ${options.seed}, ${o.backend}` +
        (resume === undefined ? '' : `; resuming after ${resume.state.iteration} steps`),
    )
    const tty = cx.errTTY
    let lastDraw = 0
    const every = (p: PretrainProgress): number => Math.max(1, Math.round(p.stopAt / 20))
    const onProgress = (p: PretrainProgress): void => {
      if (tty !== undefined) {
        const t = Date.now()
        if (t - lastDraw < 200 && p.iteration < p.stopAt) return
        lastDraw = t
        tty(`\r${progressLine(p)}\x1b[K`)
      } else if (p.iteration % every(p) === 0 || p.iteration === p.stopAt) cx.err(progressLine(p))
    }
    const onEvent = (line: string): void => {
      if (tty !== undefined) tty('\r\x1b[K')
      cx.err(`sparkts pretrain: ${line}`)
    }
    const r = await pretrain(
      { out, options, backbone: bb.right, train, val, backend: o.backend, ...(o.steps === undefined ? {} : { stopAt: o.steps }), ...(resume === undefined ? {} : { resume }) },
      { onProgress, onEvent },
    )
    if (tty !== undefined) tty('\r\x1b[K')
    if (E.isLeft(r)) return cx.fail(r.left)
    const res = r.right
    const means = epochMeans(res.losses, res.stepsPerEpoch)
    const summary = {
      status: res.status,
      steps: res.iteration,
      totalSteps: res.totalIterations,
      stepsPerEpoch: res.stepsPerEpoch,
      finalLoss: res.losses[res.losses.length - 1] ?? null,
      epochMeanLosses: means,
      seconds: res.seconds,
      checkpoint: res.checkpoint ?? null,
      backbone: res.backbone ?? null,
      pictures: res.pictures,
    }
    if (o.json === true) return cx.out(JSON.stringify(summary))
    cx.out(
      [
        `${res.status === 'finished' ? 'finished' : 'stopped'} after ${res.iteration} of ${res.totalIterations} steps in ${res.seconds.toFixed(1)} s; mean loss per epoch ${means.map((m) => m.toFixed(4)).join(', ')}`,
        `checkpoint: ${res.checkpoint ?? '(none)'} (resume with --resume)`,
        `backbone weights: ${res.backbone ?? '(none)'} (for sparkts probe/finetune --checkpoint)`,
        `reconstructions (masked | reconstruction | original): ${res.pictures[res.pictures.length - 1] ?? '(none)'}${res.pictures.length > 1 ? ` and ${res.pictures.length - 1} more in the same folder` : ''}`,
      ].join('\n'),
    )
  })
}
