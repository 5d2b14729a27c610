// Training-step benchmark (`npm run bench:train -- --model resnet50 --input-size 224 --batch-size 8
// --backend tfjs-wasm [--runs 3] [--warmup 1] [--threads N] [--mask-ratio 0.6] [--decoder-width 768]`):
// builds the SparK training graph of a zoo backbone with random weights (initParams), a LAMB trainer
// (β2 0.95 for ResNets, 0.999 otherwise), then times whole SparK steps (inputs uploaded, forward, backward,
// LAMB, running statistics, loss read back) on fresh random images and masks generated outside the timed
// region. Prints ONE JSON line with the median seconds per step and images/s, plus the machine's load
// average (the machine may be shared). Runs default to few: a ResNet-50 224 px b8 step takes seconds.

import * as E from 'fp-ts/lib/Either.js'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { median } from '../cli/bench.js'
import { formatError } from '../ir/errors.js'
import { initParams } from '../ir/init.js'
import type { HostTensor } from '../ir/types.js'
import { findModel } from '../models/zoo.js'
import { randomMask } from '../spark/mask.js'
import { buildSpark } from '../spark/spark.js'
import { makeRng } from '../util/rng.js'
import { sparkLamb } from './optimizer-lamb.js'
import type { TrainBackend } from './step.js'
import { createTrainer, formatTrainError } from './step.js'

/** Settings of the training benchmark. */
export interface TrainBenchOptions {
  readonly model: string
  readonly inputSize: number
  readonly batch: number
  readonly backend: TrainBackend
  readonly runs: number
  readonly warmup: number
  readonly maskRatio: number
  readonly decoderWidth: number
  readonly seed: number
  readonly threads?: number
}

/** The JSON line printed. */
export interface TrainBenchResult {
  readonly bench: 'spark-train-step'
  readonly model: string
  readonly inputSize: number
  readonly batch: number
  readonly backend: string
  readonly threads: number | null
  readonly node: string
  readonly cpu: string
  readonly cores: number
  readonly loadAverage: ReadonlyArray<number>
  readonly maskRatio: number
  readonly decoderWidth: number
  readonly runs: number
  readonly warmup: number
  readonly medianSeconds: number
  readonly minSeconds: number
  readonly imagesPerSecond: number
  /** Median split of a step: forward + backward (loss read back) and optimiser + running statistics. */
  readonly medianGradientSeconds: number
  readonly medianUpdateSeconds: number
  readonly seconds: ReadonlyArray<number>
  readonly losses: ReadonlyArray<number>
}

const rounded = (x: number, digits = 5): number => Number(x.toPrecision(digits))

/** Runs the benchmark; Left is a one-line error. */
export const runTrainBench = async (o: TrainBenchOptions): Promise<E.Either<string, TrainBenchResult>> => {
  const entry = findModel(o.model)
  if (entry === undefined) return E.left(`unknown model '${o.model}'`)
  const bb = entry.create()
  if (o.inputSize % bb.downsampleRatio !== 0) return E.left(`--input-size ${o.inputSize} must be a multiple of ${bb.name}'s total stride ${bb.downsampleRatio}`)
  const m = buildSpark(bb, { decoderWidth: o.decoderWidth, training: true, inputSize: o.inputSize, batch: o.batch })
  if (E.isLeft(m)) return E.left(formatError(m.left))
  const g = m.right.graph
  const grid = o.inputSize / bb.downsampleRatio
  const tr = await createTrainer(g, {
    backend: o.backend,
    ...(o.threads === undefined ? {} : { threads: o.threads }),
    inputShapes: { input: [o.batch, o.inputSize, o.inputSize, bb.inChannels], mask: [o.batch, grid, grid, 1] },
    params: initParams(g, o.seed),
    optimizer: { kind: 'lamb', config: sparkLamb(bb.family === 'resnet' ? 0.95 : 0.999) },
  })
  if (E.isLeft(tr)) return E.left(formatTrainError(tr.left))
  const rng = makeRng(o.seed + 1)
  const batchAt = (i: number): E.Either<string, ReadonlyMap<string, HostTensor>> => {
    const mask = randomMask({ batch: o.batch, h: grid, ratio: o.maskRatio, seed: o.seed + 1000 + i })
    if (E.isLeft(mask)) return E.left(mask.left.message)
    const shape = [o.batch, o.inputSize, o.inputSize, bb.inChannels]
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => rng.normal())
    return E.right(new Map([['input', { shape, data }], ['mask', mask.right]]))
  }
  const seconds: number[] = []
  const losses: number[] = []
  const split: Array<{ readonly gradients: number; readonly update: number }> = []
  try {
    for (let i = 0; i < o.warmup + o.runs; i++) {
      const inputs = batchAt(i)
      if (E.isLeft(inputs)) return inputs
      const t0 = performance.now()
      const r = await tr.right.step(inputs.right, { lr: 1e-4, wd: 0.04 })
      const dt = (performance.now() - t0) / 1000
      if (E.isLeft(r)) return E.left(/memory access out of bounds|Invalid typed array length|Aborted|out of memory/i.test(r.left.message) ? `${r.left.message} (out of memory: the wasm heap is capped at 4 GB and the step keeps every intermediate of the forward for the backward; try a smaller --batch-size or --input-size)` : r.left.message)
      if (i >= o.warmup) {
        seconds.push(dt)
        losses.push(rounded(r.right.loss))
        split.push(r.right.seconds)
      }
    }
  } finally {
    tr.right.dispose()
  }
  const { getBackend } = await import('../backends/index.js')
  const b = await getBackend(o.backend, o.threads === undefined ? {} : { threads: o.threads })
  const threads = E.isRight(b) ? b.right.describe()['threads'] : undefined
  const med = median(seconds)
  return E.right({
    bench: 'spark-train-step',
    model: bb.name,
    inputSize: o.inputSize,
    batch: o.batch,
    backend: o.backend,
    threads: typeof threads === 'number' ? threads : (o.threads ?? null),
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    loadAverage: loadavg().map((x) => rounded(x, 3)),
    maskRatio: o.maskRatio,
    decoderWidth: o.decoderWidth,
    runs: o.runs,
    warmup: o.warmup,
    medianSeconds: rounded(med),
    minSeconds: rounded(Math.min(...seconds)),
    imagesPerSecond: rounded(o.batch / med, 4),
    medianGradientSeconds: rounded(median(split.map((x) => x.gradients))),
    medianUpdateSeconds: rounded(median(split.map((x) => x.update))),
    seconds: seconds.map((s) => rounded(s)),
    losses,
  })
}

const intArg = (name: string, v: string | undefined, dflt: number, min: number): E.Either<string, number> => {
  if (v === undefined) return E.right(dflt)
  const n = Number(v)
  return Number.isInteger(n) && n >= min ? E.right(n) : E.left(`--${name} must be an integer >= ${min}, got '${v}'`)
}

/** Parses the command line (without node and script); Left is a one-line error. */
export const parseTrainBenchArgs = (argv: ReadonlyArray<string>): E.Either<string, TrainBenchOptions> => {
  let v: Record<string, string | undefined>
  try {
    v = parseArgs({
      args: [...argv],
      options: Object.fromEntries(['model', 'input-size', 'batch-size', 'backend', 'runs', 'warmup', 'threads', 'mask-ratio', 'decoder-width', 'seed'].map((k) => [k, { type: 'string' as const }])),
      strict: true,
    }).values as Record<string, string | undefined>
  } catch (e) {
    return E.left(e instanceof Error ? e.message : String(e))
  }
  const backend = v['backend'] ?? 'tfjs-wasm'
  if (backend !== 'tfjs-wasm' && backend !== 'tfjs-cpu') return E.left(`--backend must be tfjs-wasm or tfjs-cpu, got '${backend}'`)
  const ratio = Number(v['mask-ratio'] ?? 0.6)
  if (!(ratio >= 0 && ratio < 1)) return E.left(`--mask-ratio must be in [0, 1), got '${v['mask-ratio']}'`)
  const ints = [
    intArg('input-size', v['input-size'], 224, 1),
    intArg('batch-size', v['batch-size'], 8, 1),
    intArg('runs', v['runs'], 3, 1),
    intArg('warmup', v['warmup'], 1, 0),
    intArg('decoder-width', v['decoder-width'], 768, 1),
    intArg('seed', v['seed'], 0, 0),
  ] as const
  for (const x of ints) if (E.isLeft(x)) return x
  const [inputSize, batch, runs, warmup, decoderWidth, seed] = ints.map((x) => (E.isRight(x) ? x.right : 0)) as [number, number, number, number, number, number]
  const threads = v['threads'] === undefined ? undefined : intArg('threads', v['threads'], 1, 1)
  if (threads !== undefined && E.isLeft(threads)) return threads
  return E.right({
    model: v['model'] ?? 'resnet50',
    inputSize,
    batch,
    backend,
    runs,
    warmup,
    maskRatio: ratio,
    decoderWidth,
    seed,
    ...(threads === undefined ? {} : { threads: threads.right }),
  })
}

/** The bench entry point: prints one JSON line on success, one `sparkts: error: …` line on stderr otherwise; returns the exit code. */
export const trainBenchMain = async (argv: ReadonlyArray<string>): Promise<number> => {
  const o = parseTrainBenchArgs(argv)
  const r = E.isLeft(o) ? o : await runTrainBench(o.right)
  if (E.isLeft(r)) {
    process.stderr.write(`sparkts: error: ${r.left}\n`)
    return 1
  }
  process.stdout.write(`${JSON.stringify(r.right)}\n`)
  return 0
}
