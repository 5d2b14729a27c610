// The tfjs wasm backend (XNNPACK, SIMD), the default in Node. init loads @tensorflow/tfjs-backend-wasm
// lazily (its .wasm binaries ship in the package, no network), installs the sparkts kernels that 4.22 lacks
// or gets wrong (wasm-kernels.ts), and activates it. Threads: tfjs disables wasm threads in Node; sparkts
// runs single-threaded (a 2-thread shim exists in the probes but is tied to 4.22's emitted glue; not shipped).

import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../backend.js'
import { activate, tf } from './tf.js'
import type { LowerRules } from './rules.js'
import { compileTfjs, withOverrides } from './lower.js'
import { installWasmKernels, installedWasmKernels } from './wasm-kernels.js'

/** wasm-specific lowering overrides (none needed: the patched kernels make the default rules exact). */
export const wasmRules: Partial<LowerRules> = {}

/** Options of the wasm backend. */
export interface WasmOptions {
  /** Requested threads; only 1 is supported in Node today (more is reported, not an error). */
  readonly threads?: number
}

let simd: boolean | undefined

/** The tfjs wasm backend. */
export const tfjsWasmBackend = (opts: WasmOptions = {}): Backend => {
  const requested = opts.threads ?? Number(process.env['SPARKTS_WASM_THREADS'] ?? 1)
  let threads = 1
  return {
    name: 'tfjs-wasm',
    init: async () => {
      try {
        const wasm = await import('@tensorflow/tfjs-backend-wasm')
        installWasmKernels('wasm')
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
      kernels: installedWasmKernels().join(','),
    }),
  }
}
