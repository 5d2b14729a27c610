// Backend registry: name → lazily imported backend. Heavy modules (tfjs, wasm binaries, tfjs-node-gpu)
// load only when asked for; an unavailable backend answers Left with a reason naming what to install.

import * as E from 'fp-ts/lib/Either.js'
import type { Backend, BackendName } from './backend.js'

/** Options for `getBackend` (ignored by backends they do not apply to). */
export interface GetBackendOptions {
  /** Threads for tfjs-wasm (best effort: its describe().threads says what it got). */
  readonly threads?: number
}

/** Loads and initialises a backend by name; Left = why it is not usable here. */
export const getBackend = async (name: BackendName, opts: GetBackendOptions = {}): Promise<E.Either<string, Backend>> => {
  let b: Backend
  switch (name) {
    case 'reference':
      b = (await import('./reference/index.js')).referenceBackend
      break
    case 'tfjs-cpu':
      b = (await import('./tfjs/cpu.js')).tfjsCpuBackend
      break
    case 'tfjs-wasm':
      b = (await import('./tfjs/wasm.js')).tfjsWasmBackend(opts.threads === undefined ? {} : { threads: opts.threads })
      break
    case 'tfjs-webgl':
      b = (await import('./tfjs/webgl.js')).tfjsWebglBackend
      break
    case 'tfjs-node-gpu':
      b = (await import('./tfjs/node-gpu.js')).tfjsNodeGpuBackend
      break
    default:
      return name satisfies never
  }
  const ok = await b.init()
  return E.map(() => b)(ok)
}
