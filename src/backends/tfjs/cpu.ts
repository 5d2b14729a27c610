// The tfjs cpu backend (pure JS, ~0.6 GFLOP/s): slow, but the reference tfjs implementation of every
// kernel, so it is the cross-check for the wasm backend and its patched kernels.

import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../backend.js'
import { activate, tf } from './tf.js'
import type { LowerRules } from './rules.js'
import { compileTfjs, withOverrides } from './lower.js'

/** cpu-specific lowering overrides (none needed: every default rule is exact on cpu). */
export const cpuRules: Partial<LowerRules> = {}

/** The tfjs cpu backend. */
export const tfjsCpuBackend: Backend = {
  name: 'tfjs-cpu',
  init: async () => {
    try {
      await activate('cpu')
      return E.right(undefined)
    } catch (e) {
      return E.left(`tfjs-cpu failed to initialise: ${e instanceof Error ? e.message : String(e)}`)
    }
  },
  compile: compileTfjs('tfjs-cpu', 'cpu', withOverrides(cpuRules)),
  describe: () => ({ backend: 'tfjs-cpu', tfjs: tf.version_core, simd: false, threads: 1 }),
}
