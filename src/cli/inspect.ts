// `sparkts inspect`: builds a backbone at a concrete input size (batch 1) and reports what a user needs
// before pretraining it — parameter counts, MACs per image, downsample ratio and the hierarchical
// feature shapes — as text, one JSON object, the stable graph text, or Graphviz DOT.

import * as E from 'fp-ts/lib/Either.js'
import type { Backbone } from '../models/backbone.js'
import { buildBackbone } from '../models/backbone.js'
import type { CompileError } from '../ir/errors.js'
import { graphCost } from '../ir/cost.js'
import type { Graph } from '../ir/graph.js'
import type { Types } from '../ir/infer.js'
import { verify } from '../ir/verify.js'
import { printGraph } from '../ir/print.js'
import { toDot } from '../ir/dot.js'
import type { Dim } from '../ir/types.js'

/** What `inspect` needs besides the backbone. */
export interface InspectOptions {
  /** Input side (square). */
  readonly inputSize: number
  /** Classes of the head; 0 = features only. */
  readonly numClasses: number
}

/** The facts `inspect` reports (JSON-serialisable). */
export interface InspectSummary {
  readonly model: string
  readonly family: string
  /** [H, W, C] of the input. */
  readonly input: ReadonlyArray<number>
  readonly numClasses: number
  readonly trainableParams: number
  readonly nonTrainableParams: number
  /** Multiply–accumulates per image (conv, transposed conv, linear; FLOPs = 2·MACs). */
  readonly macsPerImage: number
  readonly downsampleRatio: number
  /** Feature map shapes [H, W, C], largest first. */
  readonly features: ReadonlyArray<ReadonlyArray<Dim>>
  /** Logits shape without batch, when a head was built. */
  readonly logits?: ReadonlyArray<Dim>
}

/** A summary plus the built graph and its concrete types. */
export interface Inspection {
  readonly summary: InspectSummary
  readonly graph: Graph
  readonly types: Types
}

/** Builds the backbone at batch 1 and the given input size and computes its summary. */
export const inspectBackbone = (bb: Backbone, o: InspectOptions): E.Either<CompileError, Inspection> => {
  const built = buildBackbone(bb, { inputSize: o.inputSize, batch: 1, numClasses: o.numClasses })
  if (E.isLeft(built)) return built
  const { graph, info } = built.right
  const types = verify(graph)
  if (E.isLeft(types)) return types
  const cost = graphCost(graph, types.right)
  if (E.isLeft(cost)) return cost
  const shapeOf = (name: string): ReadonlyArray<Dim> | undefined => {
    const out = graph.outputs.find((x) => x.name === name)
    return out === undefined ? undefined : types.right.get(out.node)?.shape.slice(1)
  }
  const features = graph.outputs.filter((x) => x.name.startsWith('features.')).map((x) => shapeOf(x.name) ?? [])
  const logits = shapeOf('logits')
  const summary: InspectSummary = {
    model: info.name,
    family: info.family,
    input: [o.inputSize, o.inputSize, info.inChannels],
    numClasses: logits === undefined ? 0 : o.numClasses,
    trainableParams: cost.right.trainable,
    nonTrainableParams: cost.right.nonTrainable,
    macsPerImage: cost.right.macsPerImage,
    downsampleRatio: info.downsampleRatio,
    features,
    ...(logits === undefined ? {} : { logits }),
  }
  return E.right({ summary, graph, types: types.right })
}

const thousands = (n: number): string => n.toLocaleString('en-US')
const shape = (s: ReadonlyArray<Dim>): string => `[${s.map((d) => (d === null ? '?' : String(d))).join(',')}]`

/** Human-readable summary, one fact per line. */
export const formatSummary = (s: InspectSummary): string => {
  const rows: Array<readonly [string, string]> = [
    ['model', `${s.model} (${s.family})`],
    ['input [H,W,C]', `${shape(s.input)}, batch 1`],
    ['trainable params', thousands(s.trainableParams)],
    ['non-trainable params', thousands(s.nonTrainableParams)],
    ['MACs per image', `${thousands(s.macsPerImage)} (${(s.macsPerImage / 1e9).toFixed(2)} G; ${((2 * s.macsPerImage) / 1e9).toFixed(2)} GFLOP)`],
    ['downsample ratio', String(s.downsampleRatio)],
    ['features [H,W,C]', s.features.map(shape).join(' ')],
  ]
  if (s.logits !== undefined) rows.push(['logits', shape(s.logits)])
  const side = s.input[0] ?? 0
  if (side % s.downsampleRatio !== 0)
    rows.push(['note', `input size ${side} is not a multiple of the downsample ratio ${s.downsampleRatio} (SparK masking needs it)`])
  const w = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')
}

/** Output formats of `inspect`. */
export type InspectFormat = 'summary' | 'json' | 'text' | 'dot'

/** Every output format, for option validation and help. */
export const inspectFormats: ReadonlyArray<InspectFormat> = ['summary', 'json', 'text', 'dot']

/** Renders an inspection in one format. */
export const renderInspection = (r: Inspection, format: InspectFormat): string => {
  switch (format) {
    case 'summary':
      return formatSummary(r.summary)
    case 'json':
      return JSON.stringify(r.summary)
    case 'text':
      return printGraph(r.graph, r.types)
    case 'dot':
      return toDot(r.graph, r.types, r.summary.model)
  }
}
