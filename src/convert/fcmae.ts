// ConvNeXt-V2 FCMAE (sparse, MinkowskiEngine) state dicts → dense PyTorch names and layouts, following
// the official `remap_checkpoint_keys` of ConvNeXt-V2's fine-tuning script (spark-spec.md §7.4), re-derived:
//   - drop the pretraining-only parts (keys containing decoder / mask_token / proj / pred), strip `encoder.`;
//   - `<m>.kernel` (K², in, out) → `<m>.weight` OIHW with W[o,i,r,c] = K[c·ks + r, i, o] (ME's kernel index
//     runs over the first spatial axis fastest); depthwise (K², C) → (C,1,ks,ks) with W[ch,0,r,c] = K[c·ks + r, ch];
//   - MinkowskiLayerNorm/MinkowskiLinear wrappers: a second-to-last component `ln` / `linear` is removed
//     (the official code tests the substring; a whole-component test cannot hit an unrelated name);
//   - biases (1,C) → (C) and GRN gamma/beta (1,C) or (1,1,1,C) → (C) (sparkts' GRN layout, as timm's).
// A 2-D `(in, out)` 1×1 ME kernel would be read as depthwise, as in the official code (absent in ConvNeXt-V2).

import * as E from 'fp-ts/lib/Either.js'
import type { HostTensor } from '../ir/types.js'
import { showShape, sizeOf } from '../ir/types.js'

const sideOf = (kv: number): number | undefined => {
  const ks = Math.round(Math.sqrt(kv))
  return ks * ks === kv && ks > 0 ? ks : undefined
}

/** A MinkowskiEngine kernel (K², in, out) or depthwise (K², C) as a dense OIHW weight. */
export const minkowskiToDense = (key: string, k: HostTensor): E.Either<string, HostTensor> => {
  const [kv = 0, a = 0, b] = k.shape
  const ks = sideOf(kv)
  if (ks === undefined || (k.shape.length !== 2 && k.shape.length !== 3))
    return E.left(`${key}: ${showShape(k.shape)} is not a MinkowskiEngine kernel (K², in, out) or (K², C) with a square kernel volume`)
  if (b === undefined) {
    const out = new Float32Array(sizeOf(k.shape))
    for (let ch = 0; ch < a; ch++) for (let r = 0; r < ks; r++) for (let c = 0; c < ks; c++) out[(ch * ks + r) * ks + c] = k.data[(c * ks + r) * a + ch] ?? 0
    return E.right({ shape: [a, 1, ks, ks], data: out })
  }
  const out = new Float32Array(sizeOf(k.shape))
  for (let o = 0; o < b; o++)
    for (let i = 0; i < a; i++) for (let r = 0; r < ks; r++) for (let c = 0; c < ks; c++) out[((o * a + i) * ks + r) * ks + c] = k.data[((c * ks + r) * a + i) * b + o] ?? 0
  return E.right({ shape: [b, a, ks, ks], data: out })
}

/** Inverse of `minkowskiToDense`: OIHW (out,in,ks,ks) → (K², in, out), or (C,1,ks,ks) → (K², C) when `depthwise`. */
export const denseToMinkowski = (w: HostTensor, depthwise: boolean): HostTensor => {
  const [o0 = 0, i0 = 0, ks = 0] = w.shape
  const out = new Float32Array(sizeOf(w.shape))
  if (depthwise) {
    for (let ch = 0; ch < o0; ch++) for (let r = 0; r < ks; r++) for (let c = 0; c < ks; c++) out[(c * ks + r) * o0 + ch] = w.data[(ch * ks + r) * ks + c] ?? 0
    return { shape: [ks * ks, o0], data: out }
  }
  for (let o = 0; o < o0; o++)
    for (let i = 0; i < i0; i++) for (let r = 0; r < ks; r++) for (let c = 0; c < ks; c++) out[((c * ks + r) * i0 + i) * o0 + o] = w.data[((o * i0 + i) * ks + r) * ks + c] ?? 0
  return { shape: [ks * ks, i0, o0], data: out }
}

/** True for the FCMAE pretraining-only keys the official fine-tuning drops (substring test, as there). */
export const isFcmaePretrainOnly = (key: string): boolean => ['decoder', 'mask_token', 'proj', 'pred'].some((s) => key.includes(s))

/** Result of remapping: dense-named tensors plus the keys that were dropped. */
export interface Remapped {
  readonly tensors: ReadonlyMap<string, HostTensor>
  readonly dropped: ReadonlyArray<string>
}

const flat = (t: HostTensor): HostTensor => ({ shape: [sizeOf(t.shape)], data: t.data })

/** Remaps one sparse-named key and tensor to its dense name and layout (no prefix handling). */
export const remapSparseKey = (key: string, t: HostTensor): E.Either<string, readonly [string, HostTensor]> => {
  const parts = key.split('.')
  if (parts[parts.length - 1] === 'kernel') return E.map((w: HostTensor) => [[...parts.slice(0, -1), 'weight'].join('.'), w] as const)(minkowskiToDense(key, t))
  const wrapper = parts[parts.length - 2]
  const name = parts.length >= 2 && (wrapper === 'ln' || wrapper === 'linear') ? [...parts.slice(0, -2), parts[parts.length - 1]].join('.') : key
  const last = parts[parts.length - 1]
  const isGrn = parts[parts.length - 2] === 'grn' && (last === 'gamma' || last === 'beta')
  return E.right([name, (last === 'bias' && t.shape.length !== 1) || isGrn ? flat(t) : t] as const)
}

/** An FCMAE state dict (keys under `encoder.`) as dense ConvNeXt-V2 names and layouts. */
export const remapFcmae = (tensors: ReadonlyMap<string, HostTensor>): E.Either<string, Remapped> => {
  const out = new Map<string, HostTensor>()
  const dropped: string[] = []
  for (const [key, t] of tensors) {
    if (isFcmaePretrainOnly(key)) {
      dropped.push(key)
      continue
    }
    const r = remapSparseKey(key.startsWith('encoder.') ? key.slice('encoder.'.length) : key, t)
    if (E.isLeft(r)) return r
    const [name, v] = r.right
    if (out.has(name)) return E.left(`${key}: maps to '${name}', which another key already produced`)
    out.set(name, v)
  }
  return E.right({ tensors: out, dropped })
}
