// `sparkts finetune`: the backbone (random init or --checkpoint) plus a linear head trained end to end on
// the labelled set (src/eval/finetune.ts: AdamW, warm-up + cosine lr, SparK's augmentation), then test
// accuracy with BatchNorm running statistics. Data, model and checkpoint resolution are probe.ts's.

import * as E from 'fp-ts/lib/Either.js'
import type { Command } from 'commander'
import { InvalidArgumentError } from 'commander'
import { finetune } from '../eval/finetune.js'
import type { BackendLoader } from './bench.js'
import { intAtLeast } from './options.js'
import type { EvalCliContext, EvalCliOptions, EvalCommandOptions } from './probe.js'
import { evalCommandOptions, evalOptions, pct, prepare } from './probe.js'

/** `sparkts finetune`: backbone + linear head trained end to end with AdamW; lines to print. */
export const finetuneCommand = async (
  o: EvalCommandOptions & { readonly epochs: number; readonly batchSize: number; readonly lr?: number },
  loadBackend: BackendLoader,
): Promise<E.Either<string, ReadonlyArray<string>>> => {
  if (o.backend !== 'tfjs-wasm' && o.backend !== 'tfjs-cpu') return E.left(`finetune trains on tfjs-wasm or tfjs-cpu, not ${o.backend}`)
  const p = await prepare(o, loadBackend)
  if (E.isLeft(p)) return p
  const { bb, data, params, backend } = p.right
  const r = await finetune(backend, bb, data, {
    backend: o.backend,
    inputSize: o.inputSize,
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    ...(o.lr === undefined ? {} : { lr: o.lr }),
    ...(params === undefined ? {} : { params }),
  })
  if (E.isLeft(r)) return r
  const x = r.right
  const init = o.checkpoint ?? `random init (seed ${o.seed})`
  if (o.json) return E.right([JSON.stringify({ command: 'finetune', model: bb.name, weights: init, data: o.data, backend: o.backend, epochs: o.epochs, batchSize: o.batchSize, trainImages: data.train.size, testImages: data.test.size, ...x })])
  return E.right([
    `fine-tune: ${bb.name}, ${init}, data ${o.data} (${data.train.size} train / ${data.test.size} test), ${o.epochs} epoch(s) × ${x.steps / Math.max(1, o.epochs)} steps of ${o.batchSize}, AdamW`,
    `test accuracy ${pct(x.testAccuracy)} (final train loss ${x.finalLoss.toFixed(4)}), ${x.seconds.toFixed(1)} s`,
  ])
}

/** A positive finite number. */
const positive = (v: string): number => {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number')
  return n
}

/** Registers `sparkts finetune`. */
export const addFinetuneCommand = (program: Command, cx: EvalCliContext): void => {
  evalOptions(
    program
      .command('finetune')
      .description('fine-tune the backbone + a linear head end to end (AdamW, warm-up + cosine lr, RandomResizedCrop + flip) on the train split; prints test accuracy'),
  )
    .option('--epochs <n>', 'passes over the train split', intAtLeast(1), 1)
    .option('--batch-size <n>', 'images per step', intAtLeast(1), 64)
    .option('--lr <x>', 'peak learning rate', positive, 2e-3)
    .action(async (o: EvalCliOptions & { readonly epochs: number; readonly batchSize: number; readonly lr: number }) => {
      const r = await finetuneCommand({ ...evalCommandOptions(o, cx), epochs: o.epochs, batchSize: o.batchSize, lr: o.lr }, cx.loadBackend)
      if (E.isLeft(r)) cx.fail(r.left)
      else cx.out(r.right.join('\n'))
    })
}
