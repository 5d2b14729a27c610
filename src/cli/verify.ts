// `sparkts verify <model|module>`: runs SparK properties a, b, c, e (src/spark/verify.ts) on a zoo backbone or
// a user's own module and prints a table (property, where, runs, worst error, tolerance, PASS/FAIL) or, with
// --json, one JSON object (an infinite worst error prints as null). Progress goes to stderr, one line per
// run. The command succeeds only when every property passes; otherwise the report is still printed and
// the command fails with one line naming the failing properties. A backbone sparsify cannot handle (e.g. a
// sigmoid leaking into a spatial add) fails in one line naming the node. Defaults keep resnet18 and
// convnext_tiny at 64×64 well under a minute on tfjs-wasm (the float64 submanifold reference dominates).

import * as E from 'fp-ts/lib/Either.js'
import type { Command } from 'commander'
import { InvalidArgumentError, Option } from 'commander'
import type { BackendName } from '../backends/backend.js'
import type { VerifyReport } from '../spark/verify.js'
import { formatVerifyError, verifyBackbone } from '../spark/verify.js'
import { intAtLeast } from './options.js'
import { resolveModel } from './resolve.js'
import type { CommandContext } from './context.js'

/** Backends `verify` accepts. */
export const verifyBackends = ['tfjs-wasm', 'tfjs-cpu', 'reference'] as const

/** Options of `sparkts verify` after parsing. */
export interface VerifyCliOptions {
  readonly inputSize?: number
  readonly batchSize: number
  readonly runs: number
  readonly seed: number
  readonly maskRatio: number
  readonly backend: (typeof verifyBackends)[number]
  readonly json?: boolean
}

/** What the command needs from the CLI. */
export type VerifyContext = CommandContext

/** Parses a mask ratio strictly between 0 and 1. */
export const maskRatio = (v: string): number => {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError('expected a number strictly between 0 and 1')
  return n
}

const fmt = (x: number): string => (x === 0 ? '0' : Number.isFinite(x) ? x.toExponential(2) : String(x))
const tolText = (t: number, measure: string): string => (t === 0 ? 'exact (0)' : `${t.toExponential(0)} ${measure === 'relative' ? 'rel' : 'abs'}`)

/** The human table of a report. */
export const formatVerifyReport = (r: VerifyReport): string => {
  const [B, H, W, C] = r.image
  const head = [
    `sparkts verify ${r.model}: image ${B}x${H}x${W}x${C}, mask grid ${r.maskGrid[0]}x${r.maskGrid[1]} (ratio ${r.maskRatio}: ${r.keep} of ${r.maskGrid[0] * r.maskGrid[1]} cells visible), ${r.runs} run(s), seed ${r.seed}, backend ${r.backend}`,
    `probed per run: ${r.probes} values (${r.maskedProbes} masked activations at scales ${r.scales.join(', ') || 'none'}); relative errors are max|x - ref| / max(1, max|ref|)`,
    '',
  ]
  const rows = [['', 'property', 'compared', 'runs', 'worst', 'tolerance', 'result'], ...r.properties.map((p) => [p.id, p.property, p.where, String(p.runs), fmt(p.worst), tolText(p.tolerance, p.measure), p.pass ? 'PASS' : 'FAIL'])]
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? []
  const table = rows.map((row) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
  const details = r.properties.map((p) => `${p.id}: ${p.detail}`)
  const failed = r.properties.filter((p) => !p.pass).map((p) => p.id)
  const secs = `${r.seconds.total.toFixed(1)} s: ${r.backend} ${r.seconds.backend.toFixed(1)} s, float64 reference ${r.seconds.reference.toFixed(1)} s`
  const verdict = failed.length === 0 ? `PASS: all ${r.properties.length} properties hold (${secs})` : `FAIL: ${failed.join(', ')} (${secs})`
  return [...head, ...table, '', ...details, '', verdict].join('\n')
}

/** Adds `verify` to the program. */
export const addVerifyCommand = (program: Command, cx: VerifyContext): void => {
  program
    .command('verify')
    .description('check SparK properties a (all visible: sparse = dense), b (0 at masked positions, every scale), c (backend = float64 submanifold reference) and e (masked pixels do not matter) on random masks; exit 0 only when all pass')
    .argument('<model>', 'a zoo name or a path to a JavaScript module exporting a Backbone')
    .option('--input-size <n>', 'input height and width (default: the smallest multiple of the downsample ratio >= 64)', intAtLeast(1))
    .option('--batch-size <n>', 'images per run', intAtLeast(1), 2)
    .option('--runs <n>', 'random image + mask pairs', intAtLeast(1), 3)
    .option('--seed <n>', 'seed of weights, images and masks', intAtLeast(0), 0)
    .option('--mask-ratio <r>', 'fraction of mask cells hidden, in (0, 1)', maskRatio, 0.6)
    .addOption(new Option('--backend <name>', 'backend checked against the float64 reference').choices([...verifyBackends]).default('tfjs-wasm'))
    .option('--json', 'print the report as one JSON object')
    .action(async (model: string, o: VerifyCliOptions) => {
      const bb = await resolveModel(model, cx.zoo, { cwd: cx.cwd })
      if (E.isLeft(bb)) return cx.fail(bb.left)
      const ds = bb.right.downsampleRatio
      const size = o.inputSize ?? ds * Math.ceil(64 / ds)
      const backend = await cx.loadBackend(o.backend as BackendName, undefined)
      if (E.isLeft(backend)) return cx.fail(`backend ${o.backend}: ${backend.left}`)
      const opts = { inputSize: [size, size] as const, batch: o.batchSize, runs: o.runs, seed: o.seed, maskRatio: o.maskRatio, progress: (s: string) => cx.err(`sparkts verify: ${s}`) }
      let r
      try {
        r = await verifyBackbone(bb.right, backend.right, opts)
      } catch (e) {
        return cx.fail(`verify ${bb.right.name}: ${e instanceof Error ? e.message : String(e)}`)
      }
      if (E.isLeft(r)) return cx.fail(formatVerifyError(r.left))
      cx.out(o.json === true ? JSON.stringify(r.right) : formatVerifyReport(r.right))
      const failed = r.right.properties.filter((p) => !p.pass)
      if (failed.length > 0) cx.fail(`verify ${bb.right.name}: ${failed.map((p) => `${p.id} FAIL (worst ${fmt(p.worst)}, tolerance ${p.tolerance})`).join(', ')}`)
    })
}
