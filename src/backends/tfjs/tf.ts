// The one place that loads TensorFlow.js. Bare `@tensorflow/tfjs-core` registers no gradients and no
// chained ops in Node (its node bundle carries no GradConfig), so we import the umbrella `@tensorflow/tfjs`,
// whose node bundle registers all gradient configs and shares the single tfjs-core instance (kernel and
// gradient registries live on globalThis) with `@tensorflow/tfjs-backend-wasm`. Every other tfjs file in
// sparkts imports `tf` from here, so the import side effects happen once.

import * as tf from '@tensorflow/tfjs'

export { tf }

/** The tfjs-core version our kernel patches were derived and tested against. */
export const patchedTfjsVersion = '4.22.0'

/** True when the loaded tfjs-core is the version the wasm kernel patches target. */
export const isPatchedVersion = (): boolean => tf.version_core === patchedTfjsVersion

// The cpu backend prints a "Hi, looks like you are running TensorFlow.js in Node.js" banner on its first
// `write`. Do that first write here with the PROD flag raised (it only gates warnings, never numerics),
// then restore the flag so later warnings still reach the user.
const quietCpuBanner = (): void => {
  const cpu = tf.findBackend('cpu')
  if (cpu === null || cpu === undefined) return
  const prev = tf.env().getBool('PROD')
  tf.env().set('PROD', true)
  try {
    cpu.disposeData(cpu.write(new Float32Array(1), [1], 'float32'))
  } finally {
    tf.env().set('PROD', prev)
  }
}
quietCpuBanner()

/** Makes `name` the active tfjs backend; synchronous when it is already initialised (the common case). */
export const activate = async (name: string): Promise<void> => {
  for (let i = 0; i < 3 && tf.getBackend() !== name; i++) {
    const ok = await tf.setBackend(name)
    if (!ok) throw new Error(`tfjs backend '${name}' failed to initialise`)
  }
  if (tf.getBackend() !== name) throw new Error(`tfjs backend '${name}' could not be made active`)
}

/**
 * Makes an already-initialised backend active without yielding (tfjs's `setBackend` runs to completion
 * synchronously then); call it right before a synchronous section, after `activate` awaited the init.
 */
export const activateSync = (name: string): void => {
  if (tf.getBackend() !== name) void tf.setBackend(name)
  if (tf.getBackend() !== name) throw new Error(`tfjs backend '${name}' is not initialised (await activate first)`)
}
