// tfjs-node-gpu: reserved name, never a hard dependency. Its install script downloads libtensorflow (and it
// needs CUDA at run time), so it is usually absent; init then answers Left with how to install it. Both
// failure modes are caught: MODULE_NOT_FOUND (not installed) and "tfjs_binding.node can not be found"
// (installed with scripts skipped or offline).

import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../backend.js'
import { compileTfjs, withOverrides } from './lower.js'

const pkg = '@tensorflow/tfjs-node-gpu'
const hint = `install it with \`npm install ${pkg}@4.22.0\` (downloads libtensorflow at install time; needs CUDA 11.2 + cuDNN 8.1)`

/** Imports a module by a name TypeScript does not resolve (optional dependency). */
const importOptional = (name: string): Promise<unknown> => import(name)

/** The tfjs-node-gpu backend (optional package). */
export const tfjsNodeGpuBackend: Backend = {
  name: 'tfjs-node-gpu',
  init: async () => {
    try {
      await importOptional(pkg)
      const { activate } = await import('./tf.js')
      await activate('tensorflow')
      return E.right(undefined)
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e)
      const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : ''
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(msg)) return E.left(`tfjs-node-gpu: package ${pkg} is not installed; ${hint}`)
      if (msg.includes('tfjs_binding.node')) return E.left(`tfjs-node-gpu: ${pkg} is installed without its native binding (tfjs_binding.node); reinstall with scripts enabled and network: ${hint}`)
      return E.left(`tfjs-node-gpu failed to initialise: ${msg.split('\n')[0] ?? msg}`)
    }
  },
  compile: compileTfjs('tfjs-node-gpu', 'tensorflow', withOverrides({})),
  describe: () => ({ backend: 'tfjs-node-gpu', tfjs: '4.22.0', simd: false, threads: 0 }),
}
