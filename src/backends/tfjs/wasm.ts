// The tfjs wasm backend (XNNPACK, SIMD), the default in Node. init loads @tensorflow/tfjs-backend-wasm
// lazily (its .wasm binaries ship in the package, no network), installs the sparkts kernels that 4.22 lacks
// or gets wrong (wasm-kernels.ts), and activates it. Threads: tfjs disables wasm threads in Node; sparkts
// runs 1 thread unless asked (`{ threads }` or env SPARKTS_WASM_THREADS), then wasm-threads.ts tries the
// threaded build and falls back to 1 thread with a warning. The count is fixed at the first wasm init of the
// process, so describe() reports the threads really in use.

import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../backend.js'
import { activate, tf } from './tf.js'
import type { LowerRules } from './rules.js'
import { compileTfjs, withOverrides } from './lower.js'
import { installWasmKernels, installedWasmKernels } from './wasm-kernels.js'
import { initWasmThreads } from './wasm-threads.js'

/** wasm-specific lowering overrides (none needed: the patched kernels make the default rules exact). */
export const wasmRules: Partial<LowerRules> = {}

/** Options of the wasm backend. */
export interface WasmOptions {
  /** Requested threads (default: env SPARKTS_WASM_THREADS, else 1); >1 is best effort, see describe().threads. */
  readonly threads?: number
}

let simd: boolean | undefined

/** Threads asked for by env SPARKTS_WASM_THREADS (a positive integer; anything else means 1). */
export const envThreads = (v = process.env['SPARKTS_WASM_THREADS']): number => {
  const n = Number(v ?? 1)
  return Number.isInteger(n) && n >= 1 ? n : 1
}

/** The tfjs wasm backend. */
export const tfjsWasmBackend = (opts: WasmOptions = {}): Backend => {
  const requested = opts.threads ?? envThreads()
  let threads = 1
  let threadsWarning: string | undefined
  return {
    name: 'tfjs-wasm',
    init: async () => {
      try {
        const wasm = await import('@tensorflow/tfjs-backend-wasm')
        installWasmKernels('wasm')
        threadsWarning = (await initWasmThreads(requested)).warning
        await activate('wasm')
        simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))
        threads = wasm.getThreadsCount()
        return E.right(undefined)
      } catch (e) {
        return E.left(`tfjs-wasm failed to initialise: ${e instanceof Error ? e.message : String(e)}`)
      }
    },
    compile: compileTfjs('tfjs-wasm', 'wasm', withOverrides(wasmRules)),
    describe: () => ({
      backend: 'tfjs-wasm',
      tfjs: tf.version_core,
      simd: simd ?? false,
      threads,
      ...(requested > 1 ? { threadsRequested: requested } : {}),
      ...(threadsWarning !== undefined ? { threadsWarning } : {}),
      kernels: installedWasmKernels().join(','),
    }),
  }
}
