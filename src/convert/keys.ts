// Recognises where a checkpoint's state dict comes from and turns it into dense PyTorch names (still
// PyTorch layouts; torch-layout.ts converts those to sparkts layouts):
//   - `module.` on every key (DataParallel / DDP) is stripped first;
//   - SparK with-decoder (`sparse_encoder.sp_cnn.<cnn keys>` + densify norms/projections, mask tokens,
//     decoder): for a dense model only the encoder is kept, the rest is reported as dropped;
//   - ConvNeXt-V2 FCMAE (`encoder.` keys, MinkowskiEngine kernels): fcmae.ts;
//   - everything else is taken by name: SparK timm-style files (bare), timm and torchvision ResNets (same
//     names), official ConvNeXt v1 and dense ConvNeXt-V2 (GRN (1,1,1,C) is matched by element count).
// Deprecated SparK buffers (`imn_m`, `imn_s`, `norm_black`, unused by SparK) and BatchNorm
// `num_batches_tracked` counters (unused at inference) are ignored, never "unexpected".

import * as E from 'fp-ts/lib/Either.js'
import type { TensorData } from '../checkpoint/types.js'
import { toFloat32 } from '../checkpoint/types.js'
import type { HostTensor } from '../ir/types.js'
import { remapFcmae } from './fcmae.js'

/** Where a state dict came from. */
export type SourceKind = 'spark-withdecoder' | 'fcmae' | 'plain'

/** A state dict with dense names, plus what was set aside and why. */
export interface MappedState {
  readonly source: SourceKind
  /** Dense PyTorch names and layouts (OIHW, (out, in)), float32. */
  readonly tensors: ReadonlyMap<string, HostTensor>
  /** Keys ignored on purpose: deprecated SparK buffers and `num_batches_tracked`. */
  readonly ignored: ReadonlyArray<string>
  /** Keys of parts that a dense encoder does not have (SparK decoder/densify/mask tokens, FCMAE decoder). */
  readonly dropped: ReadonlyArray<string>
}

/** Prefix of the encoder CNN inside a SparK with-decoder state dict. */
export const SPARK_ENCODER_PREFIX = 'sparse_encoder.sp_cnn.'

/** SparK's deprecated, unused buffers. */
export const SPARK_DEPRECATED_BUFFERS: ReadonlyArray<string> = ['imn_m', 'imn_s', 'norm_black']

/** True for keys that are ignored rather than reported as unexpected. */
export const isIgnoredKey = (key: string): boolean => SPARK_DEPRECATED_BUFFERS.includes(key) || key.endsWith('.num_batches_tracked') || key === 'num_batches_tracked'

const toHost = (t: TensorData): HostTensor => ({ shape: [...t.shape], data: toFloat32(t) })

/** Detects the source kind of (module-stripped) keys. */
export const detectSource = (keys: ReadonlyArray<string>): SourceKind =>
  keys.some((k) => k.startsWith(SPARK_ENCODER_PREFIX)) ? 'spark-withdecoder' : keys.some((k) => k.startsWith('encoder.') && !k.startsWith('encoder_')) ? 'fcmae' : 'plain'

/** Maps a checkpoint's tensors to dense names; Left for malformed sparse kernels. */
export const mapKeys = (tensors: ReadonlyMap<string, TensorData>): E.Either<string, MappedState> => {
  const all = [...tensors.keys()]
  const strip = all.length > 0 && all.every((k) => k.startsWith('module.')) ? 'module.'.length : 0
  const ignored: string[] = []
  const kept = new Map<string, HostTensor>()
  for (const [k, t] of tensors) {
    const key = k.slice(strip)
    if (isIgnoredKey(key)) ignored.push(key)
    else kept.set(key, toHost(t))
  }
  const source = detectSource([...kept.keys()])
  if (source === 'spark-withdecoder') {
    const enc = new Map<string, HostTensor>()
    const dropped: string[] = []
    for (const [k, t] of kept) {
      if (k.startsWith(SPARK_ENCODER_PREFIX)) enc.set(k.slice(SPARK_ENCODER_PREFIX.length), t)
      else dropped.push(k)
    }
    return E.right({ source, tensors: enc, ignored, dropped })
  }
  if (source === 'fcmae') return E.map((r: { tensors: ReadonlyMap<string, HostTensor>; dropped: ReadonlyArray<string> }) => ({ source, tensors: r.tensors, ignored, dropped: r.dropped }))(remapFcmae(kept))
  return E.right({ source, tensors: kept, ignored, dropped: [] })
}
