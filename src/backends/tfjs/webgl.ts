// tfjs-webgl: reserved name, loaded lazily. WebGL needs a browser (tfjs-backend-webgl does not register
// itself in Node); in a browser bundle init would activate it. In Node it answers Left without loading it.

import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../backend.js'
import { compileTfjs, withOverrides } from './lower.js'

const inBrowser = (): boolean => typeof globalThis === 'object' && 'document' in globalThis && 'window' in globalThis

/** The tfjs WebGL backend (browser only). */
export const tfjsWebglBackend: Backend = {
  name: 'tfjs-webgl',
  init: async () => {
    if (!inBrowser()) return E.left('tfjs-webgl runs in a browser: no WebGL context in Node (use tfjs-wasm)')
    try {
      await import('@tensorflow/tfjs-backend-webgl')
      const { activate } = await import('./tf.js')
      await activate('webgl')
      return E.right(undefined)
    } catch (e) {
      return E.left(`tfjs-webgl failed to initialise: ${e instanceof Error ? e.message : String(e)}`)
    }
  },
  compile: compileTfjs('tfjs-webgl', 'webgl', withOverrides({})),
  describe: () => ({ backend: 'tfjs-webgl', tfjs: '4.22.0', simd: false, threads: 1 }),
}
