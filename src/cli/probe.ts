// `sparkts probe` (and the parts `sparkts finetune`, finetune.ts, shares): evaluation of a backbone (random init, or weights from a
// checkpoint through the BackboneParams contract of src/eval/weights.ts) on a labelled set — the built-in
// Fashion-MNIST subset or a folder with class subfolders. The backbone's input channels follow the data
// (1 for the built-in set, 3 for folders). Output: human lines, or one JSON line with --json.

import * as E from 'fp-ts/lib/Either.js'
import type { Command } from 'commander'
import { Option } from 'commander'
import type { Backend, BackendName } from '../backends/backend.js'
import type { FeatureScales } from '../eval/features.js'
import { loadLabelledSplits } from '../eval/labelled-data.js'
import type { LabelledSplits } from '../eval/labelled-data.js'
import { linearProbe } from '../eval/probe.js'
import type { BackboneParams, BackboneParamsLoader } from '../eval/weights.js'
import { loadSafetensorsParams } from '../eval/weights.js'
import type { Backbone } from '../models/backbone.js'
import { withInChannels } from '../models/small-resnet.js'
import type { ZooEntry } from '../models/zoo.js'
import type { BackendLoader } from './bench.js'
import { backendName, intAtLeast } from './options.js'
import { resolveModel } from './resolve.js'
import type { CommandContext } from './context.js'

/** Options shared by probe and finetune. */
export interface EvalCommandOptions {
  readonly model: string
  readonly checkpoint?: string
  readonly data: string
  readonly inputSize: number
  readonly seed: number
  readonly backend: BackendName
  readonly json: boolean
  /** Keep the first n images of each class in each split. */
  readonly perClass?: number
  readonly cwd: string
  readonly zoo: Readonly<Record<string, ZooEntry>>
  readonly warn: (m: string) => void
  /** Loads --checkpoint (default: sparkts-layout safetensors of backbone parameters). */
  readonly loadParams?: BackboneParamsLoader
}

/** What both commands resolve first: the data, the backbone (channels follow the data), weights, backend. */
export interface Prepared {
  readonly bb: Backbone
  readonly data: LabelledSplits
  readonly params?: BackboneParams
  readonly backend: Backend
}

/** Resolves data, model, checkpoint and backend (in that order: cheap failures first). */
export const prepare = async (o: EvalCommandOptions, loadBackend: BackendLoader): Promise<E.Either<string, Prepared>> => {
  const data = loadLabelledSplits(o.data, { warn: o.warn, ...(o.perClass === undefined ? {} : { perClass: o.perClass }) })
  if (E.isLeft(data)) return data
  const bb = await resolveModel(o.model, o.zoo, { cwd: o.cwd })
  if (E.isLeft(bb)) return bb
  const params = o.checkpoint === undefined ? undefined : (o.loadParams ?? loadSafetensorsParams)(o.checkpoint)
  if (params !== undefined && E.isLeft(params)) return params
  const backend = await loadBackend(o.backend, undefined)
  if (E.isLeft(backend)) return E.left(`backend ${o.backend}: ${backend.left}`)
  return E.right({ bb: withInChannels(bb.right, data.right.train.channels), data: data.right, backend: backend.right, ...(params === undefined ? {} : { params: params.right }) })
}

/** A fraction as a percentage with 2 decimals. */
export const pct = (x: number): string => `${(100 * x).toFixed(2)}%`

/** `sparkts probe`: linear probe on frozen features; lines to print. */
export const probeCommand = async (o: EvalCommandOptions & { readonly features: FeatureScales; readonly iterations?: number }, loadBackend: BackendLoader): Promise<E.Either<string, ReadonlyArray<string>>> => {
  const p = await prepare(o, loadBackend)
  if (E.isLeft(p)) return p
  const { bb, data, params, backend } = p.right
  const r = await linearProbe(backend, bb, data, { inputSize: o.inputSize, scales: o.features, seed: o.seed, ...(params === undefined ? {} : { params }), ...(o.iterations === undefined ? {} : { iterations: o.iterations }) })
  if (E.isLeft(r)) return r
  const x = r.right
  const init = o.checkpoint ?? `random init (seed ${o.seed})`
  if (o.json) return E.right([JSON.stringify({ command: 'probe', model: bb.name, weights: init, data: o.data, features: o.features, backend: o.backend, ...x })])
  return E.right([
    `linear probe: ${bb.name}, ${init}, data ${o.data} (${x.trainImages} train / ${x.testImages} test, ${data.classes.length} classes), features ${o.features} (${x.featureDim}-d, global average pooled, standardised)`,
    `train accuracy ${pct(x.trainAccuracy)}, test accuracy ${pct(x.testAccuracy)}`,
    `time: features ${x.extractSeconds.toFixed(1)} s (${o.backend}), logistic regression ${x.fitSeconds.toFixed(1)} s`,
  ])
}

/** What the probe and finetune registrations need from the CLI. */
export type EvalCliContext = CommandContext

/** Raw commander options shared by probe and finetune: the command options less what the context supplies. */
export type EvalCliOptions = Omit<EvalCommandOptions, 'json' | 'cwd' | 'zoo' | 'warn' | 'loadParams'> & { readonly json?: boolean }

/** Adds the options shared by probe and finetune. */
export const evalOptions = (c: Command): Command =>
  c
    .option('--model <model>', 'a zoo name or a path to a JavaScript module exporting a Backbone', 'resnet_small')
    .option('--checkpoint <file>', 'backbone weights: a safetensors file of sparkts-layout parameters (bare keys or under sparse_encoder.sp_cnn./encoder./backbone.); default: random init')
    .option('--data <data>', "'builtin' (the Fashion-MNIST subset in data/) or a folder with class subfolders (or train/ and test/ folders of class subfolders)", 'builtin')
    .option('--input-size <n>', 'input side in pixels (built-in images are padded 28→32)', intAtLeast(1), 32)
    .option('--seed <n>', 'seed of the random initialisation and of the data order/augmentation', intAtLeast(0), 0)
    .option('--backend <name>', 'tfjs-wasm | tfjs-cpu (probe also: reference, tfjs-webgl, tfjs-node-gpu)', backendName, 'tfjs-wasm' as BackendName)
    .option('--per-class <n>', 'use only the first n images of each class in each split (quick runs)', intAtLeast(1))
    .option('--json', 'print one JSON line instead of text')

/** Common options from commander's. */
export const evalCommandOptions = (o: EvalCliOptions, cx: EvalCliContext): EvalCommandOptions => ({
  model: o.model,
  data: o.data,
  inputSize: o.inputSize,
  seed: o.seed,
  backend: o.backend,
  json: o.json === true,
  cwd: cx.cwd,
  zoo: cx.zoo,
  warn: (m) => cx.err(`sparkts: warning: ${m}`),
  ...(o.checkpoint === undefined ? {} : { checkpoint: o.checkpoint }),
  ...(o.perClass === undefined ? {} : { perClass: o.perClass }),
})

/** Registers `sparkts probe`. */
export const addProbeCommand = (program: Command, cx: EvalCliContext): void => {
  evalOptions(
    program
      .command('probe')
      .description('linear probe: frozen backbone features (eval-mode BN, global average pooled) → standardised → multinomial logistic regression on the train split; prints test accuracy'),
  )
    .addOption(new Option('--features <which>', "'last': the last feature map pooled; 'all': the 4 scales pooled and concatenated").choices(['last', 'all']).default('last'))
    .option('--iterations <n>', 'full-batch Adam iterations of the logistic regression', intAtLeast(1), 300)
    .action(async (o: EvalCliOptions & { readonly features: FeatureScales; readonly iterations: number }) => {
      const r = await probeCommand({ ...evalCommandOptions(o, cx), features: o.features, iterations: o.iterations }, cx.loadBackend)
      if (E.isLeft(r)) cx.fail(r.left)
      else cx.out(r.right.join('\n'))
    })
}
