// Forward-pass benchmark (`npm run bench`, `sparkts bench`): compiles a backbone with random weights
// (initParams) on a backend, runs warm-up passes, then times ≥5 forward passes (inputs uploaded and
// outputs downloaded each time, as a user's `run` would) and reports ONE JSON line with the median, the
// minimum, images/s and the achieved GFLOP/s (= 2·MACs·batch / median). No assertion is made on speed.

import * as E from 'fp-ts/lib/Either.js'
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import type { Backbone } from '../models/backbone.js'
import { buildBackbone } from '../models/backbone.js'
import type { Backend, BackendName } from '../backends/backend.js'
import { formatError } from '../ir/errors.js'
import { graphCost } from '../ir/cost.js'
import { verify } from '../ir/verify.js'
import { initParams } from '../ir/init.js'
import type { HostTensor } from '../ir/types.js'
import { makeRng } from '../util/rng.js'

/** Benchmark settings. */
export interface BenchOptions {
  readonly inputSize: number
  readonly batch: number
  readonly runs: number
  readonly warmup: number
  readonly numClasses: number
  readonly seed: number
  /** Threads requested (backends that support it); undefined = backend default. */
  readonly threads?: number
}

/** The JSON line the benchmark prints. */
export interface BenchResult {
  readonly model: string
  readonly inputSize: number
  readonly batch: number
  readonly backend: string
  readonly threads: number | null
  readonly node: string
  readonly cpu: string
  readonly runs: number
  readonly warmup: number
  readonly medianSeconds: number
  readonly minSeconds: number
  readonly imagesPerSecond: number
  readonly macsPerImage: number
  /** Achieved GFLOP/s: 2·MACs·batch / median seconds / 1e9. */
  readonly gflops: number
  /** Every timed run, in order. */
  readonly seconds: ReadonlyArray<number>
}

/** Median of a non-empty list (mean of the two middle values for even lengths). */
export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2
}

/** The statistics of timed runs. */
export interface TimingStats {
  readonly medianSeconds: number
  readonly minSeconds: number
  readonly imagesPerSecond: number
  readonly gflops: number
}

/** Median, min, images/s and achieved GFLOP/s of run times (seconds) for a batch and MACs per image. */
export const timingStats = (seconds: ReadonlyArray<number>, batch: number, macsPerImage: number): TimingStats => {
  const med = median(seconds)
  return { medianSeconds: med, minSeconds: Math.min(...seconds), imagesPerSecond: batch / med, gflops: (2 * macsPerImage * batch) / med / 1e9 }
}

/** Loads a backend by name, with a thread count when asked (Left = why not usable). */
export type BackendLoader = (name: BackendName, threads: number | undefined) => Promise<E.Either<string, Backend>>

const rounded = (x: number, digits = 6): number => Number(x.toPrecision(digits))

/** Runs the benchmark; Left is a one-line error. */
export const runBench = async (bb: Backbone, backendName: BackendName, load: BackendLoader, o: BenchOptions): Promise<E.Either<string, BenchResult>> => {
  const built = buildBackbone(bb, { inputSize: o.inputSize, batch: o.batch, numClasses: o.numClasses })
  if (E.isLeft(built)) return E.left(formatError(built.left))
  const g = built.right.graph
  const types = verify(g)
  if (E.isLeft(types)) return E.left(formatError(types.left))
  const cost = graphCost(g, types.right)
  if (E.isLeft(cost)) return E.left(formatError(cost.left))
  const backend = await load(backendName, o.threads)
  if (E.isLeft(backend)) return E.left(`backend ${backendName}: ${backend.left}`)
  const inShape = [o.batch, o.inputSize, o.inputSize, bb.inChannels]
  const exe = backend.right.compile(g, { inputShapes: { input: inShape }, params: initParams(g, o.seed) })
  if (E.isLeft(exe)) return E.left(formatError(exe.left))
  const rng = makeRng(o.seed + 1)
  const data = new Float32Array(inShape.reduce((a, b) => a * b, 1)).map(() => rng.normal())
  const inputs = new Map<string, HostTensor>([['input', { shape: inShape, data }]])
  const seconds: number[] = []
  try {
    for (let i = 0; i < o.warmup; i++) await exe.right.run(inputs)
    for (let i = 0; i < o.runs; i++) {
      const t0 = performance.now()
      await exe.right.run(inputs)
      seconds.push((performance.now() - t0) / 1000)
    }
  } finally {
    exe.right.dispose()
  }
  const stats = timingStats(seconds, o.batch, cost.right.macsPerImage)
  const described = backend.right.describe()['threads']
  return E.right({
    model: bb.name,
    inputSize: o.inputSize,
    batch: o.batch,
    backend: backendName,
    threads: typeof described === 'number' ? described : (o.threads ?? null),
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    runs: o.runs,
    warmup: o.warmup,
    medianSeconds: rounded(stats.medianSeconds),
    minSeconds: rounded(stats.minSeconds),
    imagesPerSecond: rounded(stats.imagesPerSecond, 4),
    macsPerImage: cost.right.macsPerImage,
    gflops: rounded(stats.gflops, 4),
    seconds: seconds.map((s) => rounded(s)),
  })
}
