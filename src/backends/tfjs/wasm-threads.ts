// Opt-in multi-threaded tfjs-wasm in Node. tfjs-backend-wasm 4.22 hard-wires WASM_HAS_MULTITHREAD_SUPPORT
// to false under Node, and forcing it crashes (ERR_WORKER_PATH): Emscripten starts its pthread workers from
// Blob URLs, which Node's worker_threads refuse. No library fixes this, so this file adapts 4.22.0's emitted
// glue (design and measurements: /work/shared/docs/tfjs-backends.md §2.1, §3), only while `setBackend` runs:
//  1. Blobs are recorded; URL.createObjectURL turns a recorded worker script into a temp `.cjs` file (Node
//     accepts paths, and the Emscripten worker script has a Node branch);
//  2. the threaded main script becomes a temp file prefixed with the bundle-level names it uses (the rollup
//     `require$$N` shims, `commonjsGlobal`, three tslib helpers), and the worker's
//     `importScripts(URL.createObjectURL(blob))` is patched to import that file;
//  3. os.cpus() reports 2×N cores (the C++ side takes half the logical cores, assuming SMT);
//  4. pthread workers are constructed through a guarded subclass: an error or early exit during init is a
//     failure (not a crash), and after init they are unref()'d so the process can exit.
// It is tied to 4.22.0's emitted code: every assumption is checked first (versions, glue text, SIMD, the
// threaded binary, pool size), the attempt is bounded by a timeout, and ANY failure falls back to the 1-thread
// build with a one-line warning saying why. The thread count is fixed at the first wasm init of the process
// (tfjs keeps one wasm backend): later requests report the real count. Temp files go when init settles.
// Verified on this machine (2 vCPUs, Node 20): 2 threads initialise and match 1-thread results.

import { createRequire } from 'node:module'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { tmpdir } from 'node:os'
import { Worker, type WorkerOptions } from 'node:worker_threads'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { tf, patchedTfjsVersion } from './tf.js'

const require = createRequire(import.meta.url)

/** Outcome of a thread request: the threads really used, and why fewer than asked (if so). */
export interface ThreadInit {
  readonly threads: number
  readonly requested: number
  readonly warning?: string
}

/** Options of `initWasmThreads`. */
export interface ThreadOptions {
  /** Bound on the threaded init (ms); default 30000 or env SPARKTS_WASM_THREADS_TIMEOUT_MS. */
  readonly timeoutMs?: number
  /** Where the one-line warning goes (default: stderr). */
  readonly warn?: (line: string) => void
  /** Test hook: make the pthread workers fail to load their main script. */
  readonly injectWorkerFault?: boolean
}

/** What the bundle must look like for the adaptation to apply. */
export interface Glue {
  /** rollup shim index → module name (`var require$$0 = require('fs');`). */
  readonly shims: ReadonlyMap<string, string>
  readonly poolSize: number
}

const workerImport = 'var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)'
const mainPrefix = 'var WasmBackendModuleThreadedSimd = '
// The bundle-level helpers the threaded main script may use (written here from their meaning, not copied).
const helpers: Readonly<Record<string, string>> = {
  commonjsGlobal: 'var commonjsGlobal=globalThis;',
  __values: 'var __values=function(o){return o[Symbol.iterator]()};',
  __read: 'var __read=function(o,n){var a=[];for(var v of o){if(n!==undefined&&a.length>=n)break;a.push(v)}return a};',
  __spreadArray: 'var __spreadArray=function(to,from){return to.concat(Array.prototype.slice.call(from))};',
}

const count = (s: string, sub: string): number => s.split(sub).length - 1
const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 300)

/** Checks the tfjs-backend-wasm node bundle text; Left = which assumption no longer holds. */
export const analyseGlue = (bundle: string): E.Either<string, Glue> => {
  const shims = new Map([...bundle.matchAll(/^var (require\$\$\d+) = require\('([^']+)'\);$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']))
  const pools = [...bundle.matchAll(/var pthreadPoolSize = (\d+);/g)]
  const cores = /(require\$\$\d+)\.cpus\(\)\.length/.exec(bundle)
  if (count(bundle, workerImport) !== 1) return E.left('worker glue changed (importScripts of the main-script Blob not found once)')
  if (count(bundle, `"${mainPrefix}"`) !== 1) return E.left('main-script Blob glue changed')
  if (pools.length !== 1) return E.left('pthread pool size not found once')
  if (cores === null || shims.get(cores[1] ?? '') !== 'os') return E.left('core count no longer read from os.cpus()')
  return E.right({ shims, poolSize: Number(pools[0]?.[1]) })
}

/** The threaded main script as a file for the workers: the bundle-level names it uses, then its text. */
export const mainScriptFile = (text: string, glue: Glue): E.Either<string, string> => {
  if (!text.startsWith(mainPrefix)) return E.left('main-script Blob has unexpected content')
  const used = new Set([...text.matchAll(/\b(require\$\$\d+|commonjsGlobal|__[a-zA-Z]+)\b/g)].map((m) => m[1] ?? ''))
  const lines: string[] = []
  for (const name of used) {
    const mod = glue.shims.get(name)
    const helper = helpers[name]
    if (mod !== undefined) lines.push(`var ${name}=require(${JSON.stringify(mod)});`)
    else if (helper !== undefined) lines.push(helper)
    else if (!['__filename', '__dirname', '__FusedMatMul'].includes(name)) return E.left(`main script uses unknown bundle name ${name}`)
  }
  return E.right(`${lines.join('')}\n${text}`)
}

/** The worker script with its Blob import replaced by an import of the main-script file. */
export const patchWorker = (text: string, mainPath: string): E.Either<string, string> =>
  count(text, workerImport) === 1 ? E.right(text.replace(workerImport, `importScripts(${JSON.stringify(mainPath)})`)) : E.left('worker script has unexpected content')

const wasmPkg = (): string => dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm')

/** Every precondition that can be checked before touching the engine; Left = why threads are off. */
const preconditions = async (wasm: WasmModule, requested: number): Promise<E.Either<string, Glue>> => {
  if (tf.version_core !== patchedTfjsVersion || wasm.version_wasm !== patchedTfjsVersion) return E.left(`needs tfjs ${patchedTfjsVersion} (core ${tf.version_core}, wasm ${wasm.version_wasm})`)
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return E.left('no SharedArrayBuffer/Atomics')
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) return E.left('no wasm SIMD (the threaded build needs it)')
  const cpusDesc = Object.getOwnPropertyDescriptor(require('node:os'), 'cpus')
  if (cpusDesc?.writable !== true && cpusDesc?.set === undefined) return E.left('os.cpus cannot be patched')
  try {
    if (!WebAssembly.validate(readFileSync(join(wasmPkg(), 'tfjs-backend-wasm-threaded-simd.wasm')))) return E.left('threaded wasm binary does not validate (no wasm threads)')
    const glue = analyseGlue(readFileSync(require.resolve('@tensorflow/tfjs-backend-wasm'), 'utf8'))
    return pipe(glue, E.chain((g) => (requested <= g.poolSize ? E.right(g) : E.left(`${requested} threads exceed the ${g.poolSize}-worker pthread pool`))))
  } catch (e) {
    return E.left(`cannot read the wasm package: ${oneLine(e)}`)
  }
}

/** The hooks of one threaded attempt (installed for the duration of setBackend only). */
interface Attempt {
  readonly workers: Worker[]
  readonly failed: Promise<string>
  /** Removes the hooks; after a failure the attempt's workers stay muted (their errors are expected). */
  readonly restore: (ok: boolean) => void
  readonly cleanFiles: () => void
}

const install = (glue: Glue, threads: number, opts: ThreadOptions): Attempt => {
  const dir = mkdtempSync(join(tmpdir(), 'sparkts-wasm-threads-'))
  const rm = (): void => rmSync(dir, { recursive: true, force: true })
  process.once('exit', rm)
  const cleanFiles = (): void => (rm(), void process.removeListener('exit', rm))
  let fail: (why: string) => void = () => undefined
  const failed = new Promise<string>((resolve) => (fail = resolve))
  const workers: Worker[] = []
  let state: 'init' | 'ok' | 'failed' = 'init'
  class GuardedWorker extends Worker {
    constructor(file: string | URL, options?: WorkerOptions) {
      super(file, options)
      workers.push(this)
    }
    override emit(event: string | symbol, ...args: unknown[]): boolean {
      if (state !== 'ok' && event === 'error') return fail(`pthread worker failed: ${oneLine(args[0])}`), true
      if (state === 'init' && event === 'exit') fail(`pthread worker exited (code ${String(args[0])})`)
      return super.emit(event, ...args)
    }
  }
  const texts = new WeakMap<object, string>()
  let mainPath: string | undefined
  const files = new Map<string, string>()
  const OrigBlob = globalThis.Blob
  globalThis.Blob = new Proxy(OrigBlob, {
    construct: (target, args: unknown[], newTarget) => {
      const blob: object = Reflect.construct(target, args, newTarget)
      const parts = args[0]
      if (Array.isArray(parts) && parts.every((p) => typeof p === 'string')) {
        const text = parts.join('')
        texts.set(blob, text)
        if (text.startsWith(mainPrefix)) {
          const file = mainScriptFile(opts.injectWorkerFault === true ? `${mainPrefix}(function(){throw new Error('injected worker fault')})()` : text, glue)
          if (E.isRight(file)) writeFileSync((mainPath = join(dir, 'main.js')), file.right)
          else fail(file.left)
        }
      }
      return blob
    },
  })
  const origCreate = URL.createObjectURL
  URL.createObjectURL = (obj: Blob): string => {
    const text = texts.get(obj)
    if (text === undefined) return origCreate(obj)
    const known = files.get(text)
    if (known !== undefined) return known
    if (mainPath === undefined) throw new Error('worker requested before the main script was seen')
    const patched = patchWorker(text, mainPath)
    if (E.isLeft(patched)) throw new Error(patched.left)
    const path = join(dir, `worker-${files.size}.cjs`)
    writeFileSync(path, patched.right)
    files.set(text, path)
    return path
  }
  const prevWorker = Object.getOwnPropertyDescriptor(globalThis, 'Worker')
  let assignedWorker: unknown
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => GuardedWorker, set: (w: unknown) => (assignedWorker = w) })
  const os: { cpus: () => unknown[] } = require('node:os')
  const origCpus = os.cpus
  os.cpus = () => {
    const real = origCpus()
    return Array.from({ length: 2 * threads }, (_, i) => real[i % Math.max(real.length, 1)] ?? { model: 'virtual', speed: 0, times: {} })
  }
  const prevProd = tf.env().getBool('PROD')
  tf.env().set('PROD', true) // silences tfjs's multi-line "Initialization of backend wasm failed" warning
  const restore = (ok: boolean): void => {
    state = ok ? 'ok' : 'failed'
    globalThis.Blob = OrigBlob
    URL.createObjectURL = origCreate
    os.cpus = origCpus
    if (prevWorker !== undefined) Object.defineProperty(globalThis, 'Worker', prevWorker)
    else if (assignedWorker !== undefined) Object.defineProperty(globalThis, 'Worker', { configurable: true, writable: true, value: assignedWorker })
    else Reflect.deleteProperty(globalThis, 'Worker')
    tf.env().set('PROD', prevProd)
  }
  return { workers, failed, restore, cleanFiles }
}

const defaultTimeout = (): number => Number(process.env['SPARKTS_WASM_THREADS_TIMEOUT_MS'] ?? 30_000)

/** A conv big enough to be split across threads, with an exact answer (3·3·32 ones = 288 everywhere). */
const smoke = (wasm: WasmModule): E.Either<string, number> => {
  const ok = tf.tidy(() => tf.conv2d(tf.ones<tf.Rank.R4>([1, 16, 16, 32]), tf.ones<tf.Rank.R4>([3, 3, 32, 16]), 1, 'valid').dataSync().every((v) => v === 288))
  return ok ? E.right(wasm.getThreadsCount()) : E.left('threaded conv smoke test gave wrong values')
}

/** One threaded init; Left = why it failed (the caller then falls back). */
const attempt = async (wasm: WasmModule, glue: Glue, threads: number, opts: ThreadOptions): Promise<E.Either<string, number>> => {
  const listeners = { uncaughtException: process.listeners('uncaughtException'), unhandledRejection: process.listeners('unhandledRejection') }
  const factory = tf.engine().registryFactory['wasm']
  let a: Attempt
  try {
    a = install(glue, threads, opts)
  } catch (e) {
    return E.left(`cannot prepare the worker files: ${oneLine(e)}`)
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)
  wasm.setThreadsCount(threads)
  let timer: NodeJS.Timeout | undefined
  const timeoutMs = opts.timeoutMs ?? defaultTimeout()
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`threaded init took over ${timeoutMs} ms`), timeoutMs)))
  let result: E.Either<string, number>
  try {
    const r = await Promise.race([tf.setBackend('wasm').then((ok) => (ok ? null : 'setBackend failed'), (e: unknown) => oneLine(e)), a.failed, timeout])
    result = r !== null ? E.left(r) : tf.getBackend() !== 'wasm' ? E.left('wasm did not become the active backend') : smoke(wasm)
  } catch (e) {
    result = E.left(oneLine(e))
  }
  clearTimeout(timer)
  a.restore(E.isRight(result))
  if (E.isRight(result)) {
    for (const w of a.workers) w.unref()
    a.cleanFiles()
    return result
  }
  // Undo the attempt: stop its workers, drop its process listeners and any half-made backend, and leave the
  // engine able to initialise the 1-thread build (a late result of the abandoned init is ignored by tfjs).
  await Promise.allSettled(a.workers.map((w) => w.terminate()))
  a.cleanFiles()
  for (const l of process.listeners('uncaughtException')) if (!listeners.uncaughtException.includes(l)) process.removeListener('uncaughtException', l)
  for (const l of process.listeners('unhandledRejection')) if (!listeners.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l)
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
  if (tf.engine().registry['wasm'] !== undefined && factory !== undefined) {
    tf.removeBackend('wasm')
    tf.registerBackend('wasm', factory.factory, factory.priority)
  }
  return result
}

// Requests are serialised: the first one chooses, later ones see the initialised backend and report it.
let queue: Promise<unknown> = Promise.resolve()

/**
 * Initialises tfjs's wasm backend with `requested` threads and makes it active. Never throws for thread
 * problems: any failure falls back to 1 thread with a one-line warning. Only the first call of the process
 * chooses; later calls report the thread count actually in use.
 */
export const initWasmThreads = (requested: number, opts: ThreadOptions = {}): Promise<ThreadInit> => {
  const p = queue.then(() => initOnce(requested, opts))
  queue = p.catch(() => undefined)
  return p
}

const initOnce = async (requested: number, opts: ThreadOptions): Promise<ThreadInit> => {
  const wasm: WasmModule = await import('@tensorflow/tfjs-backend-wasm')
  const warn = opts.warn ?? ((line: string) => void process.stderr.write(`${line}\n`))
  const report = (threads: number, why?: string): ThreadInit => {
    if (why === undefined) return { threads, requested }
    const warning = `sparkts: warning: tfjs-wasm runs ${threads} thread(s), not ${requested}: ${why}`
    warn(warning)
    return { threads, requested, warning }
  }
  if (tf.engine().registry['wasm'] !== undefined) {
    const threads = wasm.getThreadsCount()
    return report(threads, threads >= requested || requested <= 1 ? undefined : 'the wasm backend was already initialised (the thread count is fixed at the first init)')
  }
  let why: string | undefined
  if (requested > 1) {
    const glue = await preconditions(wasm, requested).catch((e: unknown) => E.left(`precondition check failed: ${oneLine(e)}`))
    const got = E.isLeft(glue) ? glue : await attempt(wasm, glue.right, requested, opts).catch((e: unknown) => E.left(`unexpected: ${oneLine(e)}`))
    if (E.isRight(got)) return report(got.right, got.right >= requested ? undefined : 'the C++ thread pool was smaller than asked')
    why = got.left
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
  const ok = await tf.setBackend('wasm')
  if (!ok || tf.getBackend() !== 'wasm') throw new Error('tfjs wasm backend failed to initialise')
  return report(wasm.getThreadsCount(), why)
}
