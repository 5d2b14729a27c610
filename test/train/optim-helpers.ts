// Test helpers for the optimisers: a float64 host re-derivation of timm-0.5.4 LAMB and PyTorch AdamW written
// directly from spec §6 as plain loops (the cross-check for properties and for the tensor the fixture
// extract leaves out), the fixture loader (test/fixtures/spark-tiny/optim-oracle.safetensors through the
// repo's safetensors reader), tfjs setup and error metrics.

import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { getBackend } from '../../src/backends/index.js'
import type { BackendName } from '../../src/backends/backend.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { readSafetensors } from '../../src/checkpoint/safetensors.js'
import { toFloat32 } from '../../src/checkpoint/types.js'
import type { HostTensor } from '../../src/ir/types.js'

/** fast-check options: seed from env FC_SEED (fast-check reports the seed on failure). */
export const fcOpts = (numRuns: number): { readonly numRuns: number; readonly seed?: number } => {
  const s = process.env['FC_SEED']
  return s === undefined ? { numRuns } : { numRuns, seed: Number(s) }
}

/** Activates a tfjs backend through the registry; Left = why not (the caller skips). */
export const useBackend = async (name: BackendName): Promise<E.Either<string, void>> => E.map(() => undefined)(await getBackend(name))

/** A float64 host tensor. */
export interface H64 {
  readonly shape: ReadonlyArray<number>
  readonly data: Float64Array
}

/** Float64 state of one parameter. */
export interface Ref64State {
  m: Float64Array
  v: Float64Array
  step: number
}

/** Group hyper for the reference (same shape as StepGroup). */
export interface RefGroup {
  readonly names: ReadonlyArray<string>
  readonly lr: number
  readonly weightDecay: number
}

const norm = (a: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) ** 2
  return Math.sqrt(s)
}

const stateOf = (st: Map<string, Ref64State>, name: string, n: number): Ref64State => {
  const s = st.get(name) ?? { m: new Float64Array(n), v: new Float64Array(n), step: 0 }
  st.set(name, s)
  return s
}

/** Reference LAMB options (all explicit). */
export interface RefLambOpts {
  readonly b1: number
  readonly b2: number
  readonly eps: number
  readonly maxGradNorm: number
  readonly biasCorrection: boolean
  readonly gradAveraging: boolean
  readonly trustClip: boolean
  readonly alwaysAdapt: boolean
}

/** SparK's LAMB options with the given β2. */
export const sparkRefLamb = (b2: number): RefLambOpts =>
  ({ b1: 0.9, b2, eps: 1e-6, maxGradNorm: 5, biasCorrection: true, gradAveraging: true, trustClip: false, alwaysAdapt: false })

/** One float64 LAMB step (spec §6), mutating params and state. */
export const refLambStep = (
  o: RefLambOpts, st: Map<string, Ref64State>, params: Map<string, Float64Array>, grads: ReadonlyMap<string, ArrayLike<number>>, groups: ReadonlyArray<RefGroup>,
): void => {
  let sq = 0
  for (const g of grads.values()) sq += norm(g) ** 2
  const G = Math.sqrt(sq)
  const scale = G > o.maxGradNorm ? o.maxGradNorm / G : 1
  for (const grp of groups) {
    for (const name of grp.names) {
      const gr = grads.get(name)
      const p = params.get(name)
      if (gr === undefined || p === undefined) continue
      const s = stateOf(st, name, p.length)
      s.step += 1
      const bc1 = o.biasCorrection ? 1 - o.b1 ** s.step : 1
      const bc2 = o.biasCorrection ? 1 - o.b2 ** s.step : 1
      const u = new Float64Array(p.length)
      for (let i = 0; i < p.length; i++) {
        const g = (gr[i] ?? 0) * scale
        s.m[i] = o.b1 * s.m[i]! + (o.gradAveraging ? 1 - o.b1 : 1) * g
        s.v[i] = o.b2 * s.v[i]! + (1 - o.b2) * g * g
        u[i] = s.m[i]! / bc1 / (Math.sqrt(s.v[i]!) / Math.sqrt(bc2) + o.eps) + grp.weightDecay * p[i]!
      }
      let tr = 1
      if (grp.weightDecay !== 0 || o.alwaysAdapt) {
        const pn = norm(p), un = norm(u)
        tr = pn > 0 && un > 0 ? pn / un : 1
        if (o.trustClip) tr = Math.min(tr, 1)
      }
      for (let i = 0; i < p.length; i++) p[i] = p[i]! - grp.lr * tr * u[i]!
    }
  }
}

/** One float64 PyTorch AdamW step, optionally after torch clip_grad_norm_(clip). */
export const refAdamWStep = (
  o: { readonly b1: number; readonly b2: number; readonly eps: number; readonly clip?: number },
  st: Map<string, Ref64State>, params: Map<string, Float64Array>, grads: ReadonlyMap<string, ArrayLike<number>>, groups: ReadonlyArray<RefGroup>,
): void => {
  let coef = 1
  if (o.clip !== undefined) {
    let sq = 0
    for (const g of grads.values()) sq += norm(g) ** 2
    coef = Math.min(1, o.clip / (Math.sqrt(sq) + 1e-6))
  }
  for (const grp of groups) {
    for (const name of grp.names) {
      const gr = grads.get(name)
      const p = params.get(name)
      if (gr === undefined || p === undefined) continue
      const s = stateOf(st, name, p.length)
      s.step += 1
      const bc1 = 1 - o.b1 ** s.step, bc2 = 1 - o.b2 ** s.step
      for (let i = 0; i < p.length; i++) {
        const g = (gr[i] ?? 0) * coef
        s.m[i] = o.b1 * s.m[i]! + (1 - o.b1) * g
        s.v[i] = o.b2 * s.v[i]! + (1 - o.b2) * g * g
        p[i] = p[i]! * (1 - grp.lr * grp.weightDecay) - (grp.lr / bc1) * s.m[i]! / (Math.sqrt(s.v[i]!) / Math.sqrt(bc2) + o.eps)
      }
    }
  }
}

/** ||a − b|| / ||ref||: relative L2 error of a tensor. */
export const relL2 = (a: ArrayLike<number>, b: ArrayLike<number>, ref: ArrayLike<number> = b): number => {
  let d = 0
  for (let i = 0; i < a.length; i++) d += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2
  return Math.sqrt(d) / Math.max(norm(ref), 1e-30)
}

/** Element-wise difference a − b (float64). */
export const diff = (a: ArrayLike<number>, b: ArrayLike<number>): Float64Array => Float64Array.from({ length: a.length }, (_, i) => (a[i] ?? 0) - (b[i] ?? 0))

/** The optimiser oracle: params and grads before the step, params after the official LAMB / AdamW steps. */
export interface Oracle {
  readonly param: ReadonlyMap<string, HostTensor>
  readonly grad: ReadonlyMap<string, HostTensor>
  readonly lamb: ReadonlyMap<string, HostTensor>
  readonly adamw: ReadonlyMap<string, HostTensor>
  readonly metadata: Readonly<Record<string, string>>
}

/** Path of a file in test/fixtures/spark-tiny. */
export const fixturePath = (file: string): string => fileURLToPath(new URL(`../fixtures/spark-tiny/${file}`, import.meta.url))

/** Reads test/fixtures/spark-tiny/optim-oracle.safetensors (throws on a malformed file: a broken fixture). */
export const loadOracle = (): Oracle => {
  const r = readSafetensors(new Uint8Array(readFileSync(fixturePath('optim-oracle.safetensors'))))
  if (E.isLeft(r)) throw new Error(`optim-oracle.safetensors: ${JSON.stringify(r.left)}`)
  const parts = { param: new Map<string, HostTensor>(), grad: new Map<string, HostTensor>(), lamb: new Map<string, HostTensor>(), adamw: new Map<string, HostTensor>() }
  for (const [k, t] of r.right.tensors) {
    const dot = k.indexOf('.')
    const kind = k.slice(0, dot)
    if (kind !== 'param' && kind !== 'grad' && kind !== 'lamb' && kind !== 'adamw') throw new Error(`unexpected tensor ${k}`)
    parts[kind].set(k.slice(dot + 1), { shape: [...t.shape], data: toFloat32(t) })
  }
  return { ...parts, metadata: r.right.metadata }
}

/** Uploads host tensors as non-trainable tf.Variables (parameters to optimise). */
export const toVariables = (m: ReadonlyMap<string, HostTensor>): Map<string, tf.Variable> =>
  new Map([...m].map(([n, h]) => {
    const t = tf.tensor(h.data, [...h.shape], 'float32')
    const v = tf.variable(t, false)
    t.dispose()
    return [n, v]
  }))

/** Uploads host tensors as tf.Tensors (gradients). */
export const toTensors = (m: ReadonlyMap<string, HostTensor | Float64Array | Float32Array>, shapes?: ReadonlyMap<string, ReadonlyArray<number>>): Map<string, tf.Tensor> =>
  new Map([...m].map(([n, h]) => {
    if (h instanceof Float64Array || h instanceof Float32Array) return [n, tf.tensor(Float32Array.from(h), [...(shapes?.get(n) ?? [h.length])], 'float32')]
    return [n, tf.tensor(h.data, [...h.shape], 'float32')]
  }))

/** Disposes every tensor of a map. */
export const disposeAll = (m: ReadonlyMap<string, tf.Tensor>): void => {
  for (const t of m.values()) t.dispose()
}

/** A small named host problem: parameter values and shapes. */
export type HostVals = ReadonlyMap<string, { readonly shape: ReadonlyArray<number>; readonly data: ArrayLike<number> }>

/** Builds a HostVals map from [name, values] pairs (rank-1 tensors). */
export const vec = (...entries: ReadonlyArray<readonly [string, ReadonlyArray<number>]>): HostVals =>
  new Map(entries.map(([n, d]) => [n, { shape: [d.length], data: d }]))

/** Uploads host values as float32 variables. */
export const hostVariables = (m: HostVals): Map<string, tf.Variable> =>
  toVariables(new Map([...m].map(([n, h]) => [n, { shape: [...h.shape], data: Float32Array.from(h.data) }])))

/** Uploads host values as float32 tensors. */
export const hostTensors = (m: HostVals): Map<string, tf.Tensor> =>
  new Map([...m].map(([n, h]) => [n, tf.tensor(Float32Array.from(h.data), [...h.shape], 'float32')]))

/** Reads variables back to the host. */
export const readBack = (m: ReadonlyMap<string, tf.Tensor>): Map<string, Float32Array> => new Map([...m].map(([n, v]) => [n, new Float32Array(v.dataSync())]))
