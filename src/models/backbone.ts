// The backbone contract SparK needs (the official custom-CNN contract, made typed): a function from the
// input value to hierarchical feature maps, largest first, each 2x smaller than the previous, the last
// at 1/downsampleRatio of the input; an optional classification head. Zoo models and user modules
// implement the same interface, so every command that takes `--arch` accepts either.

import * as E from 'fp-ts/lib/Either.js'
import type { Value } from '../ir/builder.js'
import { GraphBuilder } from '../ir/builder.js'
import type { Graph } from '../ir/graph.js'
import type { CompileError } from '../ir/errors.js'

/** Static facts about a backbone. */
export interface BackboneInfo {
  readonly name: string
  /** Family, used for SparK defaults (densify norm, betas). */
  readonly family: 'resnet' | 'convnext' | 'convnextv2' | 'custom'
  /** Total stride = SparK mask patch size. */
  readonly downsampleRatio: number
  /** Channels of each returned feature map, largest map first. */
  readonly featureChannels: ReadonlyArray<number>
  /** Input channels (3 for RGB). */
  readonly inChannels: number
}

/** A backbone: builds its features (largest first) and optionally a head from the last feature. */
export interface Backbone extends BackboneInfo {
  readonly features: (x: Value) => ReadonlyArray<Value>
  readonly head?: (last: Value, numClasses: number) => Value
}

/** Options of `buildBackbone`. */
export interface BuildOptions {
  /** Input side, or (height, width); unknown (symbolic) when omitted. */
  readonly inputSize?: number | readonly [number, number]
  /** Batch size; symbolic when omitted. */
  readonly batch?: number
  readonly training?: boolean
  /** Classes of the head; 0 or omitted = no head (features only). */
  readonly numClasses?: number
}

/** A built model: its graph plus the backbone facts. */
export interface Model {
  readonly graph: Graph
  readonly info: BackboneInfo
}

/** Builds the graph of a backbone: input `input` (NHWC), outputs `features.0..n-1` and `logits`. */
export const buildBackbone = (bb: Backbone, o: BuildOptions = {}): E.Either<CompileError, Model> => {
  const b = new GraphBuilder({ training: o.training ?? false })
  const [h, w] = o.inputSize === undefined ? [null, null] : typeof o.inputSize === 'number' ? [o.inputSize, o.inputSize] : o.inputSize
  const x = b.input('input', [o.batch ?? null, h, w, bb.inChannels])
  const feats = bb.features(x)
  const outs: Array<readonly [string, Value]> = feats.map((f, i) => [`features.${i}`, f] as const)
  const last = feats[feats.length - 1]
  if ((o.numClasses ?? 0) > 0 && bb.head !== undefined && last !== undefined) outs.push(['logits', bb.head(last, o.numClasses ?? 0)])
  const info: BackboneInfo = { name: bb.name, family: bb.family, downsampleRatio: bb.downsampleRatio, featureChannels: bb.featureChannels, inChannels: bb.inChannels }
  return E.map((graph: Graph) => ({ graph, info }))(b.build(outs))
}
