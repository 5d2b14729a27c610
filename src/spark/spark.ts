// SparK as one graph (spec §1–§5): dense backbone → `sparsify` (mask input, masked encoder) → densify every
// scale, smallest first (sparse norm, mask token where masked, projection to the decoder width) →
// LightDecoder → per-patch normalised loss on the masked patches. The assembly only wires existing ops,
// with no maths of its own, and parameter names follow the official SparK state_dict: the encoder under its
// own names (prefix `sparse_encoder.sp_cnn.` is a checkpoint-mapping concern), `densify_norms.i`,
// `mask_tokens.i`, `densify_projs.i` and `dense_decoder.*`. Outputs: `loss`, `reconstruction` (raw decoder
// output), `features.k` (the sparse encoder's maps, largest first) and `decoder_inputs.i` (smallest first).

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../ir/builder.js'
import { GraphBuilder } from '../ir/builder.js'
import type { CompileError } from '../ir/errors.js'
import type { Graph } from '../ir/graph.js'
import { graphInputs } from '../ir/graph.js'
import type { Backbone, BackboneInfo } from '../models/backbone.js'
import { buildBackbone } from '../models/backbone.js'
import { batchNormParams, conv2d, layerNorm } from '../models/layers.js'
import { sparsify } from '../passes/sparsify.js'
import { decoderChannels, lightDecoder } from './decoder.js'

/** Norm applied to each encoder map before densifying: SparseBatchNorm, sparse LayerNorm or none. */
export type DensifyNorm = 'bn' | 'ln' | 'none'

/** Options of a SparK model. */
export interface SparkOptions {
  /** Decoder width (channels of the first decoder block); official default 768. */
  readonly decoderWidth?: number
  /** Densify norm; default by family as the official code: ResNet 'bn', ConvNeXt 'ln', others 'none'. */
  readonly densifyNorm?: DensifyNorm
  /** Training mode (batch statistics in every BatchNorm). */
  readonly training?: boolean
  /** Input side or (height, width); symbolic when omitted. */
  readonly inputSize?: number | readonly [number, number]
  readonly batch?: number
}

/** A SparK model graph and the facts it was built from. */
export interface SparkModel {
  readonly graph: Graph
  readonly info: BackboneInfo
  readonly decoderWidth: number
  readonly densifyNorm: DensifyNorm
}

/** The official default densify norm of a backbone family. */
export const defaultDensifyNorm = (family: BackboneInfo['family']): DensifyNorm =>
  family === 'resnet' ? 'bn' : family === 'convnext' || family === 'convnextv2' ? 'ln' : 'none'

const densify = (i: number, feat: Value, mask: Value, norm: DensifyNorm, decoderCh: number): Value => {
  const b = feat.builder
  const c = feat.type.shape[3] as number
  const m = b.node('maskLike', [mask, feat], {}, `densify.${i}.mask`)
  const normed =
    norm === 'bn'
      ? b.node('maskedBatchNorm', [feat, m, ...batchNormParams(b, `densify_norms.${i}`, c)], { eps: 1e-5, momentum: 0.1, training: b.training }, `densify_norms.${i}`)
      : norm === 'ln'
        ? b.node('mul', [layerNorm(`densify_norms.${i}`, { eps: 1e-6 })(feat), m], {})
        : feat
  const token = b.param(`mask_tokens.${i}`, [c], { kind: 'truncNormal', std: 0.02, a: -0.02, b: 0.02 })
  const filled = b.node('maskFill', [normed, m, token], {}, `densify.${i}.fill`)
  if (i === 0 && c === decoderCh) return filled
  const k = i === 0 ? 1 : 3
  return pipe(filled, conv2d(`densify_projs.${i}`, { out: decoderCh, kernel: k, padding: Math.floor(k / 2) }))
}

/** Builds the SparK pretraining graph of a backbone: inputs `input` (B,H,W,C) normalised and `mask` (B,h,w,1). */
export const buildSpark = (bb: Backbone, o: SparkOptions = {}): E.Either<CompileError, SparkModel> => {
  const width = o.decoderWidth ?? 768
  const norm = o.densifyNorm ?? defaultDensifyNorm(bb.family)
  const training = o.training ?? false
  const dense = buildBackbone(bb, { training, ...(o.inputSize === undefined ? {} : { inputSize: o.inputSize }), ...(o.batch === undefined ? {} : { batch: o.batch }) })
  if (E.isLeft(dense)) return dense
  const sparse = sparsify('mask', bb.downsampleRatio).run(dense.right.graph)
  if (E.isLeft(sparse)) return sparse
  const ext = GraphBuilder.extend(sparse.right, { training })
  if (E.isLeft(ext)) return ext
  const { builder: b, valueOf, outputs } = ext.right
  const inputs = graphInputs(sparse.right)
  const image = inputs.find((n) => n.params.name === 'input')
  const mask = inputs.find((n) => n.params.name === 'mask')
  if (image === undefined || mask === undefined) return E.left({ _tag: 'Invariant', pass: 'buildSpark', message: 'sparsify did not produce the inputs input and mask' })
  const feats = bb.featureChannels.map((_, k) => outputs.get(`features.${k}`)).filter((v): v is Value => v !== undefined)
  const dch = decoderChannels(width, bb.downsampleRatio)
  const toDec = [...feats].reverse().map((f, i) => densify(i, f, valueOf(mask.id), norm, dch[i] ?? 0))
  const rec = lightDecoder(toDec, { width, downsampleRatio: bb.downsampleRatio, outChannels: bb.inChannels })
  const loss = b.node('maskedPatchLoss', [rec, valueOf(image.id), valueOf(mask.id)], { eps: 1e-6 }, 'loss')
  const graph = b.build([
    ['loss', loss],
    ['reconstruction', rec],
    ...feats.map((f, k) => [`features.${k}`, f] as const),
    ...toDec.map((t, i) => [`decoder_inputs.${i}`, t] as const),
  ])
  return E.map((g: Graph) => ({ graph: g, info: dense.right.info, decoderWidth: width, densifyNorm: norm }))(graph)
}
