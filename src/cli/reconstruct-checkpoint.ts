// What a SparK with-decoder checkpoint says about the model it holds, read from the checkpoint itself
// (spec §7.1–7.2): the architecture (`arch` entry), the input size (`input_size`, or the config's
// `sparse_encoder.input_size`), the decoder width (config `dense_decoder.width`, else the shape of
// `dense_decoder.dec.0.conv.0.weight`), the densify norm (config `densify_norm_str`, else the densify
// keys present) and the mask ratio (config `mask_ratio`, default 0.6). Accepts the official files
// (wrapped `{module, arch, input_size, …}` or a bare module, encoder under `sparse_encoder.sp_cnn.`) and
// sparkts ones (safetensors whose metadata carries the same entries as strings, the config as JSON;
// encoder keys with or without the prefix). Pure: no file access.

import * as E from 'fp-ts/lib/Either.js'
import type { Checkpoint, PyData } from '../checkpoint/types.js'
import { toFloat32 } from '../checkpoint/types.js'
import { isIgnoredKey, SPARK_ENCODER_PREFIX } from '../convert/keys.js'
import type { HostTensor } from '../ir/types.js'
import type { DensifyNorm } from '../spark/spark.js'

/** The SparK model a checkpoint holds, and its tensors under SparK module names. */
export interface SparkCheckpoint {
  /** The `arch` entry (a zoo name), if any. */
  readonly arch: string | undefined
  readonly inputSize: number
  readonly decoderWidth: number
  readonly densifyNorm: DensifyNorm
  readonly maskRatio: number
  /** True when the encoder keys carry `sparse_encoder.sp_cnn.` (official); false for bare sparkts names. */
  readonly prefixed: boolean
  /** Float tensors by SparK module key (`module.` stripped, deprecated buffers and BN counters removed). */
  readonly state: ReadonlyMap<string, HostTensor>
}

/** Defaults when the checkpoint does not say (official SparK defaults). */
export const SPARK_DEFAULTS = { inputSize: 224, maskRatio: 0.6 } as const

const isMap = (v: PyData | undefined): v is ReadonlyMap<string, PyData> => v instanceof Map

/** The SparK `config` dict: extras (official, inside the module) or metadata (as a dict or JSON text). */
const configOf = (c: Checkpoint): ReadonlyMap<string, PyData> => {
  const v = c.extras.get('config') ?? c.metadata.get('config')
  if (isMap(v)) return v
  if (typeof v === 'string') {
    try {
      const o: unknown = JSON.parse(v)
      if (typeof o === 'object' && o !== null && !Array.isArray(o)) return new Map(Object.entries(o as Record<string, PyData>))
    } catch {
      return new Map()
    }
  }
  return new Map()
}

const asNumber = (v: PyData | undefined): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined

const asString = (v: PyData | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

const DECODER_PROBE = 'dense_decoder.dec.0.conv.0.weight'

/** Reads the SparK model description out of a checkpoint; Left when it holds no SparK decoder or says nonsense. */
export const describeSparkCheckpoint = (c: Checkpoint): E.Either<string, SparkCheckpoint> => {
  const keys = [...c.tensors.keys()]
  const strip = keys.length > 0 && keys.every((k) => k.startsWith('module.')) ? 'module.'.length : 0
  const state = new Map<string, HostTensor>()
  for (const [k, t] of c.tensors) {
    const key = k.slice(strip)
    if (!isIgnoredKey(key)) state.set(key, { shape: [...t.shape], data: toFloat32(t) })
  }
  const probe = state.get(DECODER_PROBE)
  if (probe === undefined)
    return E.left(`no SparK decoder in the checkpoint (no '${DECODER_PROBE}'): reconstruction needs a with-decoder file (e.g. *_withdecoder_1kpretrained_spark_style.pth), not an encoder-only one`)
  const cfg = configOf(c)
  const value = (k: string): PyData | undefined => cfg.get(k) ?? c.metadata.get(k)
  const width = asNumber(value('dense_decoder.width')) ?? probe.shape[0]
  const inputSize = asNumber(c.metadata.get('input_size')) ?? asNumber(value('sparse_encoder.input_size')) ?? SPARK_DEFAULTS.inputSize
  const maskRatio = asNumber(value('mask_ratio')) ?? SPARK_DEFAULTS.maskRatio
  const normStr = asString(value('densify_norm_str')) ?? asString(value('densify_norm'))
  const densifyNorm: DensifyNorm =
    normStr !== undefined
      ? normStr.toLowerCase() === 'bn'
        ? 'bn'
        : normStr.toLowerCase() === 'ln'
          ? 'ln'
          : 'none'
      : state.has('densify_norms.0.running_mean')
        ? 'bn'
        : state.has('densify_norms.0.weight')
          ? 'ln'
          : 'none'
  if (width === undefined || !Number.isInteger(width) || width < 1) return E.left(`bad decoder width ${String(width)}`)
  if (!Number.isInteger(inputSize) || inputSize < 1) return E.left(`bad input size ${inputSize}`)
  if (!(maskRatio >= 0 && maskRatio <= 1)) return E.left(`bad mask ratio ${maskRatio} (config 'mask_ratio' must be in [0, 1])`)
  return E.right({
    arch: asString(c.metadata.get('arch')),
    inputSize,
    decoderWidth: width,
    densifyNorm,
    maskRatio,
    prefixed: [...state.keys()].some((k) => k.startsWith(SPARK_ENCODER_PREFIX)),
    state,
  })
}

const SPARK_OWN = /^(densify_norms|densify_projs|mask_tokens|dense_decoder)\./

/** Maps a SparK graph parameter name to its key in the checkpoint (encoder names get the prefix when `prefixed`). */
export const sparkKeyOf = (prefixed: boolean) => (name: string): string => (!prefixed || SPARK_OWN.test(name) ? name : `${SPARK_ENCODER_PREFIX}${name}`)
