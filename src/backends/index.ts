// Backend registry: name → lazily imported backend. Heavy modules (tfjs, wasm binaries, tfjs-node-gpu)
// load only when asked for; an unavailable backend answers Left with a reason naming what to install.

import * as E from 'fp-ts/lib/Either.js'
import type { Backend, BackendName } from './backend.js'

/** Loads and initialises a backend by name; Left = why it is not usable here. */
export const getBackend = async (name: BackendName): Promise<E.Either<string, Backend>> => {
  let b: Backend
  switch (name) {
    case 'reference':
      b = (await import('./reference/index.js')).referenceBackend
      break
    case 'tfjs-cpu':
      b = (await import('./tfjs/cpu.js')).tfjsCpuBackend
      break
    case 'tfjs-wasm':
      b = (await import('./tfjs/wasm.js')).tfjsWasmBackend()
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
