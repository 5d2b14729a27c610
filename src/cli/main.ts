// The `sparkts` command line (commander): `models`, `inspect`, `bench`, `convert`, `run`, `reconstruct`. `run` takes argv and an output
// sink and returns the exit code, so tests drive it without spawning a process; `main` binds it to the
// real process. Every failure is ONE line on stderr, `sparkts: error: …` (compile errors through
// formatError: node, op, shapes), with a non-zero exit code and never a stack trace (set
// SPARKTS_DEBUG=1 to get the stack of an unexpected exception).

import * as E from 'fp-ts/lib/Either.js'
import { Command, CommanderError, Option } from 'commander'
import { readFileSync } from 'node:fs'
import type { BackendName } from '../backends/backend.js'
import type { CompileError } from '../ir/errors.js'
import { formatError } from '../ir/errors.js'
import { zoo as defaultZoo } from '../models/zoo.js'
import type { ZooEntry } from '../models/zoo.js'
import type { BackendLoader } from './bench.js'
import { runBench } from './bench.js'
import type { InspectFormat } from './inspect.js'
import { inspectBackbone, inspectFormats, renderInspection } from './inspect.js'
import { formatModels, modelRows } from './models.js'
import { backendName, intAtLeast } from './options.js'
import { convertCommand } from './convert.js'
import type { Layout } from './run.js'
import { runCommand } from './run.js'
import { reconstructCommand } from './reconstruct.js'
import { PREPROCESS_HELP } from '../image/preprocess.js'
import { resolveModel } from './resolve.js'
import { addVerifyCommand } from './verify.js'
import { addPretrainCommand } from './pretrain.js'
import { addProbeCommand } from './probe.js'
import { addFinetuneCommand } from './finetune.js'

/** Where the CLI writes (stdout, stderr). */
export interface CliIO {
  readonly out: (s: string) => void
  readonly err: (s: string) => void
  /** Raw writes to stderr when it is a terminal (progress bars); absent = plain lines. */
  readonly errTTY?: (s: string) => void
}

/** Dependencies the CLI can be given (tests substitute them). */
export interface CliDeps {
  readonly zoo: Readonly<Record<string, ZooEntry>>
  readonly loadBackend: BackendLoader
  readonly cwd: string
}

/** Exit codes: 0 success, 1 failure (model, compile, backend), 2 usage error. */
export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const

/** The default backend loader: the lazy registry of src/backends/index.ts. */
export const defaultLoadBackend: BackendLoader = async (name: BackendName, threads: number | undefined) => {
  const { getBackend } = await import('../backends/index.js')
  const b = await getBackend(name, threads === undefined ? {} : { threads })
  if (E.isLeft(b) || threads === undefined) return b
  const got = b.right.describe()['threads']
  return got === threads ? b : E.left(`cannot run with ${threads} thread(s) (backend reports ${String(got ?? 'no thread setting')})`)
}

class Failure extends Error {}

// src/cli/main.ts and dist/cli/main.js both sit two levels below package.json.
const packageVersion = (): string => {
  try {
    const v: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version
    return typeof v === 'string' ? v : 'unknown'
  } catch {
    return 'unknown'
  }
}

const orFail = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Failure(e.left)
  return e.right
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim()

/** Runs the CLI on `argv` (without the node and script entries); resolves to the exit code. */
export const run = async (argv: ReadonlyArray<string>, io: CliIO, deps: Partial<CliDeps> = {}): Promise<number> => {
  const zoo = deps.zoo ?? defaultZoo
  const cwd = deps.cwd ?? process.cwd()
  const program = new Command('sparkts')
  program
    .description('SparK sparse masked pretraining for CNNs, as a typed graph compiler on TensorFlow.js')
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
      outputError: (s, write) => write(`sparkts: ${oneLine(s)}`),
    })
    .exitOverride()
    .version(packageVersion(), '-V, --version', 'print the sparkts version')
    .showSuggestionAfterError(true)
    .helpCommand(false)

  program
    .command('models')
    .description('list the model zoo (name, family, description)')
    .option('--json', 'one JSON object per line instead of a table')
    .action((o: { json?: boolean }) => {
      const rows = modelRows(zoo)
      io.out(o.json === true ? rows.map((r) => JSON.stringify(r)).join('\n') : formatModels(rows))
    })

  program
    .command('inspect')
    .description('build a backbone (batch 1) and print its parameters, MACs per image, downsample ratio and feature shapes')
    .argument('<model>', "a zoo name (see 'sparkts models') or a path to a JavaScript module exporting a Backbone (default export or `backbone`)")
    .option('--input-size <n>', 'input height and width in pixels', intAtLeast(1), 224)
    .option('--num-classes <n>', 'also build the classification head with n classes (0 = features only)', intAtLeast(0), 0)
    .option('--json', 'print the summary as one JSON object (same as --format json)')
    .addOption(
      new Option('--format <format>', 'summary | json | text (graph with types, printGraph) | dot (Graphviz)').choices([...inspectFormats]).default('summary'),
    )
    .action(async (model: string, o: { inputSize: number; numClasses: number; json?: boolean; format: InspectFormat }) => {
      if (o.json === true && o.format !== 'summary' && o.format !== 'json') throw new Failure(`--json conflicts with --format ${o.format}`)
      const bb = orFail(await resolveModel(model, zoo, { cwd }))
      const r = orFail(E.mapLeft(formatError)(safely(() => inspectBackbone(bb, o))))
      io.out(renderInspection(r, o.json === true ? 'json' : o.format))
    })

  program
    .command('bench')
    .description('time forward passes with random weights and print ONE JSON line (median/min seconds, images/s, GFLOP/s)')
    .requiredOption('--model <model>', 'a zoo name or a path to a JavaScript module exporting a Backbone')
    .option('--input-size <n>', 'input height and width in pixels', intAtLeast(1), 224)
    .option('--batch-size <n>', 'images per forward pass', intAtLeast(1), 1)
    .option('--backend <name>', 'tfjs-wasm | tfjs-cpu | reference | tfjs-webgl | tfjs-node-gpu', backendName, 'tfjs-wasm' as BackendName)
    .option('--runs <n>', 'timed runs after warm-up (>= 5; the median is reported)', intAtLeast(5), 5)
    .option('--warmup <n>', 'untimed warm-up runs', intAtLeast(0), 2)
    .option('--threads <n>', 'threads for backends that support it (default: the backend default)', intAtLeast(1))
    .option('--num-classes <n>', 'include a classification head with n classes (0 = features only)', intAtLeast(0), 0)
    .option('--seed <n>', 'seed of the random weights and input', intAtLeast(0), 0)
    .action(async (o: { model: string; inputSize: number; batchSize: number; backend: BackendName; runs: number; warmup: number; threads?: number; numClasses: number; seed: number }) => {
      const bb = orFail(await resolveModel(o.model, zoo, { cwd }))
      const opts = { inputSize: o.inputSize, batch: o.batchSize, runs: o.runs, warmup: o.warmup, numClasses: o.numClasses, seed: o.seed }
      const r = orFail(await runBench(bb, o.backend, deps.loadBackend ?? defaultLoadBackend, o.threads === undefined ? opts : { ...opts, threads: o.threads }))
      io.out(JSON.stringify(r))
    })

  program
    .command('convert')
    .description('convert a PyTorch/safetensors checkpoint into a dense model bundle (graph.json, weights.safetensors, manifest.json), BatchNorm folded')
    .argument('<checkpoint>', '.pth (zip or legacy) or .safetensors: SparK (timm-style or with decoder), ConvNeXt-V2 FCMAE, timm/torchvision ResNet, official ConvNeXt')
    .requiredOption('--arch <model>', 'a zoo name or a path to a JavaScript module exporting a Backbone')
    .requiredOption('--out <dir>', 'bundle directory to create (written atomically; must not exist or be empty)')
    .option('--strict', 'fail on any missing, unexpected or shape-mismatched key')
    .option('--num-classes <n>', 'also build the classification head with n classes (0 = features only)', intAtLeast(0), 0)
    .action(async (checkpoint: string, o: { arch: string; out: string; strict?: boolean; numClasses: number }) => {
      const lines = orFail(await convertCommand({ checkpoint, arch: o.arch, out: o.out, strict: o.strict === true, numClasses: o.numClasses, cwd, zoo, version: packageVersion() }))
      io.out(lines.join('\n'))
    })

  program
    .command('run')
    .description("run a converted bundle on a safetensors tensor 'input'; writes features.0… (+ logits)")
    .argument('<bundle>', "a directory written by 'sparkts convert'")
    .requiredOption('--input <file>', "safetensors file with a float tensor 'input' (B,C,H,W; B,H,W,C with --layout nhwc), or a .png/.jpg image (batch 1, preprocessed as below)")
    .requiredOption('--output <file>', 'safetensors file to write (float32)')
    .addOption(new Option('--layout <layout>', 'layout of the input and feature outputs').choices(['nchw', 'nhwc']).default('nchw'))
    .option('--backend <name>', 'tfjs-wasm | tfjs-cpu | reference | tfjs-webgl | tfjs-node-gpu', backendName, 'tfjs-wasm' as BackendName)
    .option('--threads <n>', 'threads for backends that support it (default: the backend default)', intAtLeast(1))
    .option('--input-size <n>', 'image input only: the side N of the preprocessed image', intAtLeast(1), 224)
    .addHelpText('after', `\nImage input (.png, .jpg): ${PREPROCESS_HELP}; N = --input-size.`)
    .action(async (bundle: string, o: { input: string; output: string; layout: Layout; backend: BackendName; threads?: number; inputSize: number }) => {
      const opts = { bundle, input: o.input, output: o.output, layout: o.layout, backend: o.backend, cwd, imageSize: o.inputSize }
      const lines = orFail(await runCommand(o.threads === undefined ? opts : { ...opts, threads: o.threads }, deps.loadBackend ?? defaultLoadBackend))
      io.out(lines.join('\n'))
    })

  addVerifyCommand(program, { zoo, cwd, loadBackend: deps.loadBackend ?? defaultLoadBackend, out: io.out, err: io.err, fail: (m) => { throw new Failure(m) } })
  const evalCx = { zoo, cwd, loadBackend: deps.loadBackend ?? defaultLoadBackend, out: io.out, err: io.err, fail: (m: string): never => { throw new Failure(m) } }
  addProbeCommand(program, evalCx)
  addFinetuneCommand(program, evalCx)

  addPretrainCommand(program, { zoo, cwd, out: io.out, err: io.err, errTTY: io.errTTY, fail: (m) => { throw new Failure(m) } })

  program
    .command('reconstruct')
    .description('SparK reconstruction from a with-decoder checkpoint: a picture (masked input | reconstruction | original) or, for machines, loss/reconstruction/features')
    .argument('<checkpoint>', 'SparK with-decoder checkpoint: official .pth (wrapped {module, arch, input_size, …} or bare module) or a sparkts .safetensors')
    .option('--image <file>', 'image mode: a .png or .jpg picture (preprocessed as below)')
    .option('--out <png>', 'image mode: the PNG to write, three panels side by side')
    .option('--mask-seed <n>', 'image mode: seed of the random SparK mask (ratio from the checkpoint config, default 0.6)', intAtLeast(0), 0)
    .option('--input <file>', "machine mode: safetensors with 'input' (B,3,H,W, ImageNet-normalised, NCHW)")
    .option('--mask <file>', "machine mode: safetensors with 'mask' (B,1,H/32,W/32; 1 = visible)")
    .option('--output <file>', "machine mode: safetensors to write: loss, reconstruction (B,3,H,W raw decoder output), features.0… (NCHW, largest first)")
    .option('--arch <model>', "override the checkpoint's arch: a zoo name or a path to a JavaScript module exporting a Backbone")
    .option('--backend <name>', 'tfjs-wasm | tfjs-cpu | reference | tfjs-webgl | tfjs-node-gpu', backendName, 'tfjs-wasm' as BackendName)
    .option('--threads <n>', 'threads for backends that support it (default: the backend default)', intAtLeast(1))
    .addHelpText('after', `\nArchitecture, decoder width, densify norm, input size N and mask ratio are read from the checkpoint; BatchNorm uses running statistics.\nImage preprocessing: ${PREPROCESS_HELP}.\nThe reconstruction panel shows visible patches from the input and masked ones predicted, un-normalised with the original patch mean/std (clamped to [0,1]).`)
    .action(async (checkpoint: string, o: { image?: string; out?: string; maskSeed: number; input?: string; mask?: string; output?: string; arch?: string; backend: BackendName; threads?: number }) => {
      const lines = orFail(await reconstructCommand({ ...o, checkpoint, cwd, zoo }, deps.loadBackend ?? defaultLoadBackend))
      io.out(lines.join('\n'))
    })

  try {
    await program.parseAsync([...argv], { from: 'user' })
    return exitCodes.ok
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? exitCodes.ok : exitCodes.usage
    const msg = e instanceof Failure ? e.message : `unexpected: ${e instanceof Error ? e.message : String(e)}`
    io.err(`sparkts: error: ${oneLine(msg)}`)
    if (!(e instanceof Failure) && process.env['SPARKTS_DEBUG'] === '1' && e instanceof Error && e.stack !== undefined) io.err(e.stack)
    return exitCodes.failure
  }
}

// A user's features() may throw (not every custom CNN records errors in the builder): report it as a failure line.
const safely = <A>(f: () => E.Either<CompileError, A>): E.Either<CompileError, A> => {
  try {
    return f()
  } catch (e) {
    throw new Failure(`building the model threw: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** Entry point of bin/sparkts.js: runs on process.argv and sets the exit code. */
export const main = async (argv: ReadonlyArray<string> = process.argv.slice(2)): Promise<void> => {
  process.exitCode = await run(argv, {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    ...(process.stderr.isTTY ? { errTTY: (s: string) => process.stderr.write(s) } : {}),
  })
}
