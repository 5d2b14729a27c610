// The minimal contract between a pretraining checkpoint and the evaluation commands (probe, finetune):
// backbone parameters in sparkts layout (conv HWIO, linear (in, out)), by PyTorch state_dict name, BN
// running statistics included — a `ReadonlyMap<string, HostTensor>`. Any checkpoint format can satisfy it
// through a `BackboneParamsLoader`; the built-in one reads a safetensors file written by src/checkpoint
// `writeSafetensors` (e.g. `TrainState.params` of the SparK trainer), keeping the keys under a known
// encoder prefix (`sparse_encoder.sp_cnn.`, `encoder.`, `backbone.`) or bare keys, and ignoring the rest
// (decoder, densify, mask tokens). `mergeParams` overlays them on a graph's initial values, refusing a
// missing backbone tensor or a shape mismatch (the classification head `fc.` may be absent).

import * as E from 'fp-ts/lib/Either.js'
import { readFileSync } from 'node:fs'
import { formatCheckpointError, readSafetensors, toFloat32 } from '../checkpoint/index.js'
import type { Graph } from '../ir/graph.js'
import { graphParams } from '../ir/graph.js'
import type { HostTensor } from '../ir/types.js'
import { showShape } from '../ir/types.js'

/** Backbone parameters (sparkts layout) by PyTorch name. */
export type BackboneParams = ReadonlyMap<string, HostTensor>

/** Loads backbone parameters from a path. */
export type BackboneParamsLoader = (path: string) => E.Either<string, BackboneParams>

/** Prefixes under which a checkpoint may store the backbone (tried in order, then bare keys). */
export const ENCODER_PREFIXES: ReadonlyArray<string> = ['sparse_encoder.sp_cnn.', 'encoder.', 'backbone.']

/** Keys under the first prefix that has any, prefix removed; all keys when none has. */
export const backboneKeys = (all: BackboneParams): BackboneParams => {
  for (const p of ENCODER_PREFIXES) {
    const hit = [...all].filter(([k]) => k.startsWith(p))
    if (hit.length > 0) return new Map(hit.map(([k, v]) => [k.slice(p.length), v]))
  }
  return all
}

/** Reads a sparkts-layout safetensors file of backbone parameters (see the header). */
export const loadSafetensorsParams: BackboneParamsLoader = (path) => {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(readFileSync(path))
  } catch (e) {
    return E.left(`${path}: cannot read (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`)
  }
  const c = readSafetensors(bytes)
  if (E.isLeft(c)) return E.left(`${path}: ${formatCheckpointError(c.left)}`)
  const all = new Map<string, HostTensor>()
  for (const [k, t] of c.right.tensors) if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F64') all.set(k, { shape: t.shape, data: toFloat32(t) })
  return E.right(backboneKeys(all))
}

/** What `mergeParams` did. */
export interface MergeReport {
  readonly loaded: number
  /** Checkpoint keys that are not parameters of the graph (decoder, densify…). */
  readonly unused: number
}

/** `init` with every graph parameter found in `loaded` replaced; Left on a missing non-head tensor or a shape mismatch. */
export const mergeParams = (g: Graph, init: BackboneParams, loaded: BackboneParams, headPrefix = 'fc.'): E.Either<string, { readonly params: Map<string, HostTensor>; readonly report: MergeReport }> => {
  const params = new Map(init)
  let n = 0
  const names = new Set<string>()
  for (const p of graphParams(g)) {
    const name = p.params.name
    names.add(name)
    const t = loaded.get(name)
    if (t === undefined) {
      if (name.startsWith(headPrefix)) continue
      return E.left(`checkpoint has no tensor '${name}' ${showShape(p.params.shape)} (is it a checkpoint of this model?)`)
    }
    if (t.shape.length !== p.params.shape.length || t.shape.some((d, i) => d !== p.params.shape[i]))
      return E.left(`checkpoint tensor '${name}' has shape ${showShape(t.shape)}, the model expects ${showShape(p.params.shape)}`)
    params.set(name, t)
    n++
  }
  return E.right({ params, report: { loaded: n, unused: [...loaded.keys()].filter((k) => !names.has(k)).length } })
}
