// Opt-in 2-thread tfjs-wasm in Node (src/backends/tfjs/wasm-threads.ts). tfjs keeps one wasm backend per
// process with its thread count fixed at the first init, so each setting runs in a child node process
// (tfjs-threads-child.ts, compiled here with the TypeScript API into node_modules/.cache so that its bare
// imports resolve). Checked: 2 threads initialise (describe().threads === 2) and the conv, ResNet-18 forward
// and vjp match the 1-thread process; the process exits by itself; temp files are removed; the fallbacks
// (worker fault, init timeout, request after a 1-thread init) report 1 thread with one warning line and still
// compute the same numbers; the glue checks refuse a bundle that drifted.
// Tolerance: max|Δ| / max|ref| ≤ 1e-6 per tensor. The threaded build runs the same XNNPACK kernels, which
//   split work by output tiles without splitting any reduction, so results are expected bit-identical; 1e-6
//   (≈8 float32 ulps of the largest entry) allows for the threaded build's different compile of the same code.
// Exit bound: 15 s from the child's last output to its exit (a process held by a pthread worker never exits).

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import * as E from 'fp-ts/lib/Either.js'
import { analyseGlue, mainScriptFile, patchWorker } from '../../src/backends/tfjs/wasm-threads.js'
import { envThreads } from '../../src/backends/tfjs/wasm.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const childTs = join(root, 'test', 'backends', 'tfjs-threads-child.ts')
const build = join(root, 'node_modules', '.cache', `sparkts-tfjs-threads-${process.pid}`)
const work = mkdtempSync(join(tmpdir(), 'sparkts-threads-test-'))
const exitBoundMs = 15_000

interface Manifest {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly length: number
}
interface ChildResult {
  readonly status: number | null
  readonly signal: string | null
  readonly stderr: string
  readonly describe: Readonly<Record<string, unknown>>
  readonly tensors: ReadonlyMap<string, Float32Array>
  readonly exitLagMs: number
  readonly leftovers: ReadonlyArray<string>
}

const runChild = (mode: string, env: Readonly<Record<string, string>> = {}): ChildResult => {
  const tmp = mkdtempSync(join(work, 'tmp-'))
  const out = join(work, `${mode}.bin`)
  const childEnv: Record<string, string | undefined> = { ...process.env, TMPDIR: tmp, ...env }
  delete childEnv['SPARKTS_WASM_THREADS']
  if (env['SPARKTS_WASM_THREADS_TIMEOUT_MS'] === undefined) delete childEnv['SPARKTS_WASM_THREADS_TIMEOUT_MS']
  const r = spawnSync(process.execPath, [join(build, 'test', 'backends', 'tfjs-threads-child.js'), mode, out], { encoding: 'utf8', env: childEnv, timeout: 180_000 })
  const exitedAt = Date.now()
  const line = r.stdout.trim().split('\n').pop() ?? ''
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`child ${mode}: status ${String(r.status)} signal ${String(r.signal)}\n${r.stderr}`)
  const parsed = JSON.parse(line) as { describe: Record<string, unknown>; manifest: ReadonlyArray<Manifest>; doneAt: number }
  const bytes = readFileSync(out)
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
  const tensors = new Map<string, Float32Array>()
  let o = 0
  for (const m of parsed.manifest) {
    tensors.set(m.name, all.slice(o, o + m.length))
    o += m.length
  }
  const leftovers = readdirSync(tmp)
  rmSync(tmp, { recursive: true, force: true })
  return { status: r.status, signal: r.signal, stderr: r.stderr, describe: parsed.describe, tensors, exitLagMs: exitedAt - parsed.doneAt, leftovers }
}

/** max|a−b| / max|b| over one tensor. */
const relErr = (a: Float32Array, b: Float32Array): number => {
  let d = 0, m = 0
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)))
    m = Math.max(m, Math.abs(b[i] ?? 0))
  }
  return m === 0 ? d : d / m
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0)

const expectSameNumbers = (got: ChildResult, ref: ChildResult): void => {
  expect([...got.tensors.keys()]).toEqual([...ref.tensors.keys()])
  for (const [k, b] of ref.tensors) {
    const a = got.tensors.get(k) ?? new Float32Array()
    expect(a.length, k).toBe(b.length)
    expect(relErr(a, b), k).toBeLessThanOrEqual(1e-6)
  }
}

const expectClean = (r: ChildResult): void => {
  expect(r.signal).toBeNull()
  expect(r.exitLagMs).toBeLessThan(exitBoundMs)
  expect(r.leftovers).toEqual([])
}

let one: ChildResult

beforeAll(() => {
  mkdirSync(build, { recursive: true })
  const cfg = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })
  if (cfg === undefined) throw new Error('cannot read tsconfig.json')
  // Emit only (type errors are tsc's job): the child and the files it imports, nothing else.
  const program = ts.createProgram([childTs], { ...cfg.options, outDir: build, rootDir: root, noEmit: false, declaration: false, sourceMap: false, incremental: false })
  const emitted = program.emit()
  if (emitted.emitSkipped) throw new Error('could not compile the child script')
  one = runChild('threads=1')
}, 180_000)

afterAll(() => {
  rmSync(build, { recursive: true, force: true })
  rmSync(work, { recursive: true, force: true })
})

describe('tfjs-wasm threads (child processes)', () => {
  it('1 thread: the reference run is sane (nonzero results, 1 thread, no warning, clean exit)', () => {
    expect(one.describe).toMatchObject({ backend: 'tfjs-wasm', threads: 1 })
    expect(one.stderr).toBe('')
    expectClean(one)
    expect(one.tensors.size).toBeGreaterThan(60)
    for (const k of ['conv', 'run/logits', 'grad/input', 'grad/conv1.weight']) expect(maxAbs(one.tensors.get(k) ?? new Float32Array()), k).toBeGreaterThan(0)
  })

  it('2 threads: describe().threads === 2 and conv, forward and vjp match 1 thread', () => {
    const two = runChild('threads=2')
    expect(two.describe).toMatchObject({ backend: 'tfjs-wasm', threads: 2, threadsRequested: 2 })
    expect(two.describe['threadsWarning']).toBeUndefined()
    expect(two.stderr).toBe('')
    expectClean(two)
    expectSameNumbers(two, one)
  })

  it('a worker fault during init falls back to 1 thread with one warning line', () => {
    const r = runChild('fault')
    expect(r.describe).toMatchObject({ threads: 1 })
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sparkts: warning: tfjs-wasm runs 1 thread\(s\), not 2: pthread worker failed: .*injected worker fault/)])
    expectClean(r)
    expectSameNumbers(r, one)
  })

  it('an init over the time bound falls back to 1 thread with one warning line', () => {
    const r = runChild('threads=2', { SPARKTS_WASM_THREADS_TIMEOUT_MS: '1' })
    expect(r.describe).toMatchObject({ threads: 1, threadsRequested: 2, threadsWarning: expect.stringContaining('took over 1 ms') })
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sparkts: warning: tfjs-wasm runs 1 thread\(s\), not 2: threaded init took over 1 ms$/)])
    expectClean(r)
    expectSameNumbers(r, one)
  })

  it('2 threads asked after a 1-thread init: reports 1 thread honestly', () => {
    const r = runChild('late')
    expect(r.describe).toMatchObject({ threads: 1, threadsRequested: 2, threadsWarning: expect.stringContaining('already initialised') })
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expectClean(r)
    expectSameNumbers(r, one)
  })
})

describe('tfjs-wasm threads: glue checks', () => {
  const bundle = readFileSync(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'), 'utf8')
  const workerImport = 'var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)'

  it('accepts the installed 4.22.0 bundle: rollup shims, 8-worker pool', () => {
    const g = analyseGlue(bundle)
    if (E.isLeft(g)) throw new Error(g.left)
    expect(g.right.poolSize).toBe(8)
    expect(Object.fromEntries(g.right.shims)).toMatchObject({ require$$0: 'fs', require$$1: 'path', require$$4: 'os' })
  })

  it('refuses a bundle whose glue drifted (each anchor removed in turn)', () => {
    for (const anchor of [workerImport, '"var WasmBackendModuleThreadedSimd = "', 'var pthreadPoolSize = 8;', '.cpus().length']) {
      expect(E.isLeft(analyseGlue(bundle.split(anchor).join('/*gone*/'))), anchor).toBe(true)
    }
  })

  it('main-script file: declares the bundle names it uses, refuses unknown ones', () => {
    const g = analyseGlue(bundle)
    if (E.isLeft(g)) throw new Error(g.left)
    const ok = mainScriptFile('var WasmBackendModuleThreadedSimd = function(){var fs=require$$0;commonjsGlobal.x=__read([1],1)}', g.right)
    expect(ok).toEqual(E.right(expect.stringMatching(/^var require\$\$0=require\("fs"\);var commonjsGlobal=globalThis;var __read=.*\nvar WasmBackendModuleThreadedSimd = /)))
    expect(E.isLeft(mainScriptFile('var WasmBackendModuleThreadedSimd = function(){__awaiter()}', g.right))).toBe(true)
    expect(E.isLeft(mainScriptFile('var WasmBackendModuleThreadedSimd = function(){require$$9}', g.right))).toBe(true)
    expect(E.isLeft(mainScriptFile('var Other = 1', g.right))).toBe(true)
  })

  it('worker patch: imports the main-script file instead of the Blob, only when the anchor is there once', () => {
    expect(patchWorker(`a;${workerImport};b`, '/t/main.js')).toEqual(E.right('a;importScripts("/t/main.js");b'))
    expect(E.isLeft(patchWorker('a;b', '/t/main.js'))).toBe(true)
    expect(E.isLeft(patchWorker(`${workerImport}${workerImport}`, '/t/main.js'))).toBe(true)
  })

  it('SPARKTS_WASM_THREADS: positive integers, anything else is 1', () => {
    expect([envThreads('2'), envThreads('1'), envThreads(undefined), envThreads('0'), envThreads('x'), envThreads('1.5')]).toEqual([2, 1, 1, 1, 1, 1])
  })
})
