// Installs the wasm kernels sparkts needs for training CNNs on tfjs-wasm 4.22 (see wasm-kernels-conv.ts and
// wasm-kernels-pool.ts for the maths). Missing kernels are added only when absent, so a future tfjs that
// ships them wins; the stock kernels we replace (Conv2DBackpropInput for speed, MaxPoolGrad, Sum and Mean for
// correctness, see wasm-kernels-reduce.ts) are replaced only on the exact tfjs version the patches were
// verified against.

import { tf, isPatchedVersion } from './tf.js'
import type { KernelBody } from './kernel-util.js'
import { composedKernel } from './kernel-util.js'
import { conv2dBackpropFilter, conv2dBackpropInput, depthwiseBackpropFilter, depthwiseBackpropInput } from './wasm-kernels-conv.js'
import { maxPoolGrad } from './wasm-kernels-pool.js'
import { installAccurateReductions } from './wasm-kernels-reduce.js'

/** Kernels added when wasm lacks them. */
const missing: ReadonlyArray<readonly [string, KernelBody]> = [
  ['Conv2DBackpropFilter', conv2dBackpropFilter],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter],
]

/** Stock kernels replaced on tfjs 4.22.0 (slow or wrong there). */
const replaced: ReadonlyArray<readonly [string, KernelBody]> = [
  ['Conv2DBackpropInput', conv2dBackpropInput],
  ['MaxPoolGrad', maxPoolGrad],
]

let installed: ReadonlyArray<string> | undefined

/** Registers the sparkts wasm kernels once; returns the names registered (idempotent). */
export const installWasmKernels = (backendName = 'wasm'): ReadonlyArray<string> => {
  if (installed !== undefined) return installed
  const done: string[] = []
  for (const [name, body] of missing) {
    if (tf.getKernel(name, backendName) !== undefined) continue
    tf.registerKernel(composedKernel(name, backendName, body))
    done.push(name)
  }
  if (isPatchedVersion()) {
    for (const [name, body] of replaced) {
      if (tf.getKernel(name, backendName) !== undefined) tf.unregisterKernel(name, backendName)
      tf.registerKernel(composedKernel(name, backendName, body))
      done.push(name)
    }
    done.push(...installAccurateReductions(backendName))
  }
  installed = done
  return done
}

/** Names of the kernels installed so far (empty before `installWasmKernels`). */
export const installedWasmKernels = (): ReadonlyArray<string> => installed ?? []
