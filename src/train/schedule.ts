// SparK's per-iteration annealing (pretrain/utils/lr_control.py lr_wd_annealing; spec §6) as pure
// functions of the global iteration `it` (= it_in_epoch + epoch·iters_per_epoch):
//   lr: it < wp: peak·0.005 + peak·0.995·it/wp; else r = (it−wp)/(T−1−wp), peak·0.001 + peak·0.999·(½+½cos πr)
//   wd: r = it/(T−1), wd_end + (wd − wd_end)·(½+½cos πr)   (a cosine INCREASE 0.04 → 0.2 by default)
// with wp = round(wp_ep·iters) (Python's round: half to even) and T = ep·iters. The arithmetic follows the
// same operation order as the Python code so that values agree to the last bit. Outside [0, T−1] the
// cosines simply continue (as in SparK); callers stay inside.

import * as E from 'fp-ts/lib/Either.js'
import { roundHalfEven } from '../util/round.js'

/** Learning-rate schedule: linear warm-up from 0.5 % of peak, then cosine down to 0.1 % of peak. */
export interface LrSchedule {
  readonly peakLr: number
  /** Warm-up iterations (already rounded). */
  readonly warmupIters: number
  /** Total iterations T (the last one is T−1). */
  readonly totalIters: number
}

/** Weight-decay schedule: cosine from `wd` at it = 0 to `wdEnd` at it = T−1. */
export interface WdSchedule {
  readonly wd: number
  readonly wdEnd: number
  readonly totalIters: number
}

/** SparK's command-line knobs that determine both schedules (spec §6 defaults in `sparkDefaults`). */
export interface SparkScheduleArgs {
  readonly baseLr: number
  readonly globalBatch: number
  readonly epochs: number
  readonly warmupEpochs: number
  readonly itersPerEpoch: number
  readonly wd: number
  readonly wdEnd: number
}

/** SparK's defaults (arg_util.py) except `itersPerEpoch`, which depends on the data set. */
export const sparkDefaults: Omit<SparkScheduleArgs, 'itersPerEpoch'> = {
  baseLr: 2e-4,
  globalBatch: 4096,
  epochs: 1600,
  warmupEpochs: 40,
  wd: 0.04,
  wdEnd: 0.2,
}

export { roundHalfEven }

/** Iterations per epoch: ceil(N / global batch) (the last batch is filled with repeated indices). */
export const itersPerEpoch = (numImages: number, globalBatch: number): number => Math.ceil(numImages / globalBatch)

/** Peak lr = base_lr · global_batch / 256 (SparK ignores `--lr`). */
export const peakLrOf = (baseLr: number, globalBatch: number): number => (baseLr * globalBatch) / 256

/** Learning rate at global iteration `it`. */
export const lrAt = (s: LrSchedule, it: number): number => {
  const { peakLr: peak, warmupIters: wp, totalIters: T } = s
  if (it < wp) return 0.005 * peak + (0.995 * peak * it) / wp
  const den = T - 1 - wp
  const r = den > 0 ? (it - wp) / den : 0
  return 0.001 * peak + 0.999 * peak * (0.5 + 0.5 * Math.cos(Math.PI * r))
}

/** Weight decay (of a scale-1 group) at global iteration `it`. */
export const wdAt = (s: WdSchedule, it: number): number => {
  const r = s.totalIters > 1 ? it / (s.totalIters - 1) : 0
  return s.wdEnd + (s.wd - s.wdEnd) * (0.5 + 0.5 * Math.cos(Math.PI * r))
}

const positive = (x: number): boolean => Number.isFinite(x) && x > 0
const nonNegative = (x: number): boolean => Number.isFinite(x) && x >= 0

/** Both schedules from SparK's arguments; Left names the first invalid argument. */
export const sparkSchedules = (a: SparkScheduleArgs): E.Either<string, { readonly lr: LrSchedule; readonly wd: WdSchedule }> => {
  if (!positive(a.baseLr)) return E.left(`baseLr must be > 0, got ${a.baseLr}`)
  if (!Number.isSafeInteger(a.globalBatch) || a.globalBatch <= 0) return E.left(`globalBatch must be a positive integer, got ${a.globalBatch}`)
  if (!Number.isSafeInteger(a.itersPerEpoch) || a.itersPerEpoch <= 0) return E.left(`itersPerEpoch must be a positive integer, got ${a.itersPerEpoch}`)
  if (!positive(a.epochs)) return E.left(`epochs must be > 0, got ${a.epochs}`)
  if (!nonNegative(a.warmupEpochs)) return E.left(`warmupEpochs must be >= 0, got ${a.warmupEpochs}`)
  if (!nonNegative(a.wd) || !nonNegative(a.wdEnd)) return E.left(`wd and wdEnd must be >= 0, got ${a.wd}, ${a.wdEnd}`)
  const totalIters = roundHalfEven(a.epochs * a.itersPerEpoch)
  const warmupIters = roundHalfEven(a.warmupEpochs * a.itersPerEpoch)
  if (warmupIters >= totalIters - 1) return E.left(`warm-up (${warmupIters} it) must end before the last iteration (${totalIters - 1})`)
  return E.right({
    lr: { peakLr: peakLrOf(a.baseLr, a.globalBatch), warmupIters, totalIters },
    wd: { wd: a.wd, wdEnd: a.wdEnd, totalIters },
  })
}
