// The README's end-to-end example: build the custom backbone of custom-backbone.ts, compile it on
// tfjs-wasm with random weights, run it on a zero batch and return the feature shapes. `npm test` runs it
// (test/examples); in this repo the imports point at src/, a user imports the same names from 'sparkts'.

import * as E from 'fp-ts/lib/Either.js'
import { buildBackbone, formatError, getBackend, initParams } from '../src/index.js'
import { tinyNet } from './custom-backbone.js'

/** Builds, compiles and runs tinyNet; returns the shape of every output. */
export const runCustom = async (batch = 2, size = 64): Promise<Record<string, ReadonlyArray<number>>> => {
  const model = buildBackbone(tinyNet, { inputSize: size, batch })
  if (E.isLeft(model)) throw new Error(formatError(model.left))
  const backend = await getBackend('tfjs-wasm')
  if (E.isLeft(backend)) throw new Error(backend.left)
  const shape = [batch, size, size, 3]
  const exe = backend.right.compile(model.right.graph, { inputShapes: { input: shape }, params: initParams(model.right.graph, 0) })
  if (E.isLeft(exe)) throw new Error(formatError(exe.left))
  try {
    const out = await exe.right.run(new Map([['input', { shape, data: new Float32Array(batch * size * size * 3) }]]))
    return Object.fromEntries([...out].map(([k, v]) => [k, v.shape]))
  } finally {
    exe.right.dispose()
  }
}
