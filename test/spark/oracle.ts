// Loads the official SparK oracle extracts of test/fixtures/spark-tiny (see extract-*.py there) as
// float32 host tensors, with NCHW → NHWC conversion for activations.

import * as E from 'fp-ts/lib/Either.js'
import { readFileSync } from 'node:fs'
import { readSafetensors } from '../../src/checkpoint/safetensors.js'
import type { HostTensor } from '../../src/ir/types.js'

/** Every F32 tensor of a fixture file, by name, in its stored (PyTorch) layout. */
export const loadOracle = (file: string): ReadonlyMap<string, HostTensor> => {
  const r = readSafetensors(new Uint8Array(readFileSync(new URL(`../fixtures/spark-tiny/${file}`, import.meta.url))))
  if (E.isLeft(r)) throw new Error(`${file}: ${r.left._tag}`)
  const out = new Map<string, HostTensor>()
  for (const [k, t] of r.right.tensors) if (t.dtype === 'F32') out.set(k, { shape: t.shape, data: t.data })
  return out
}

/** NCHW → NHWC. */
export const toNhwc = (t: HostTensor): HostTensor => {
  const [n = 1, c = 1, h = 1, w = 1] = t.shape
  const out = new Float32Array(t.data.length)
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((b * h + y) * w + x) * c + k] = t.data[((b * c + k) * h + y) * w + x] ?? NaN
  return { shape: [n, h, w, c], data: out }
}

/** The tensor `name` of `m`, or a thrown error naming it (fixtures are fixed files). */
export const get = (m: ReadonlyMap<string, HostTensor>, name: string): HostTensor => {
  const t = m.get(name)
  if (t === undefined) throw new Error(`fixture has no tensor '${name}'`)
  return t
}
