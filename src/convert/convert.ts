// Checkpoint → dense inference model: build the backbone's inference graph (symbolic batch and size, with
// a head when asked), map the checkpoint's keys to dense names (keys.ts), convert layouts by consuming op
// (torch-layout.ts), apply the load policy, then fold BatchNorm into the preceding convs.
// Load policy (PyTorch's load_state_dict errors on shape mismatch even when not strict; a dense bundle
// with random backbone weights is almost surely a mistake):
//   - shape-mismatched keys always fail; missing backbone parameters (those a `features.*` output
//     depends on) always fail;
//   - missing head parameters (`--num-classes` on a pretraining checkpoint) are initialised from their
//     declared init with seed 0 and listed as `initialised`; unexpected keys are listed;
//   - strict: any missing, unexpected or mismatched key fails (ignored/dropped keys do not count).

import * as E from 'fp-ts/lib/Either.js'
import type { Checkpoint } from '../checkpoint/types.js'
import type { Graph, NodeId } from '../ir/graph.js'
import { graphParams } from '../ir/graph.js'
import { formatError } from '../ir/errors.js'
import { initParams } from '../ir/init.js'
import type { HostTensor } from '../ir/types.js'
import type { Backbone, BackboneInfo } from '../models/backbone.js'
import { buildBackbone } from '../models/backbone.js'
import { foldBatchNorm } from '../passes/fold-batch-norm.js'
import type { SourceKind } from './keys.js'
import { mapKeys } from './keys.js'
import type { ConversionReport } from './torch-layout.js'
import { fromTorch } from './torch-layout.js'

/** Options of `convertCheckpoint`. */
export interface ConvertOptions {
  /** Classes of the head; 0 = features only. */
  readonly numClasses: number
  readonly strict: boolean
}

/** The conversion report plus what the key mapping and the passes did. */
export interface FullReport extends ConversionReport {
  readonly source: SourceKind
  /** Deprecated SparK buffers and `num_batches_tracked`, skipped on purpose. */
  readonly ignored: ReadonlyArray<string>
  /** Parts a dense encoder does not have (decoder, densify, mask tokens). */
  readonly dropped: ReadonlyArray<string>
  /** Missing head parameters filled from their declared init (seed 0). */
  readonly initialised: ReadonlyArray<string>
  /** conv → BatchNorm pairs folded into one conv. */
  readonly foldedBatchNorms: number
}

/** A converted model: folded inference graph, its parameters (sparkts layout) and the report. */
export interface ConvertedModel {
  readonly graph: Graph
  readonly params: ReadonlyMap<string, HostTensor>
  readonly info: BackboneInfo
  readonly numClasses: number
  readonly report: FullReport
}

/** Names of the params that some `features.*` output depends on. */
const backboneParams = (g: Graph): ReadonlySet<string> => {
  const byId = new Map(g.nodes.map((n) => [n.id, n]))
  const live = new Set<NodeId>(g.outputs.filter((o) => o.name.startsWith('features.')).map((o) => o.node))
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]
    if (n !== undefined && live.has(n.id)) for (const x of n.inputs) live.add(x)
  }
  return new Set(graphParams(g).flatMap((p) => (live.has(p.id) && byId.has(p.id) ? [p.params.name] : [])))
}

const listed = (what: string, xs: ReadonlyArray<string>, max = 5): string =>
  `${xs.length} ${what} (${xs.slice(0, max).join(', ')}${xs.length > max ? `, … ${xs.length - max} more` : ''})`

/** Converts a loaded checkpoint into a dense, BN-folded inference model of backbone `bb`. */
export const convertCheckpoint = (ckpt: Checkpoint, bb: Backbone, o: ConvertOptions): E.Either<string, ConvertedModel> => {
  let built
  try {
    built = buildBackbone(bb, { numClasses: o.numClasses, training: false })
  } catch (e) {
    return E.left(`building ${bb.name} threw: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (E.isLeft(built)) return E.left(`building ${bb.name}: ${formatError(built.left)}`)
  const { graph, info } = built.right
  if (o.numClasses > 0 && !graph.outputs.some((x) => x.name === 'logits')) return E.left(`--num-classes ${o.numClasses}: ${bb.name} has no classification head`)
  const mapped = mapKeys(ckpt.tensors)
  if (E.isLeft(mapped)) return mapped
  const conv = fromTorch(graph, mapped.right.tensors)
  const r = conv.report
  if (r.mismatched.length > 0) return E.left(`${listed('shape-mismatched key(s)', r.mismatched, 3)}; is --arch ${bb.name} the checkpoint's architecture?`)
  const needed = backboneParams(graph)
  const missingBackbone = r.missing.filter((k) => needed.has(k))
  if (missingBackbone.length > 0) return E.left(`${listed('missing backbone key(s)', missingBackbone)} of ${needed.size}; is --arch ${bb.name} the checkpoint's architecture?`)
  if (o.strict && (r.missing.length > 0 || r.unexpected.length > 0))
    return E.left(`--strict: ${[r.missing.length > 0 ? listed('missing', r.missing) : '', r.unexpected.length > 0 ? listed('unexpected', r.unexpected) : ''].filter((s) => s !== '').join('; ')}`)
  const params = new Map(conv.params)
  const initialised: string[] = []
  if (r.missing.length > 0) {
    const init = initParams(graph, 0)
    for (const k of r.missing) {
      const v = init.get(k)
      if (v !== undefined) params.set(k, v)
      initialised.push(k)
    }
  }
  const folded = foldBatchNorm.run({ graph, params })
  if (E.isLeft(folded)) return E.left(`folding batch norms: ${formatError(folded.left)}`)
  const count = (g: Graph): number => g.nodes.filter((n) => n.op === 'batchNorm').length
  const report: FullReport = {
    ...r,
    source: mapped.right.source,
    ignored: mapped.right.ignored,
    dropped: mapped.right.dropped,
    initialised,
    foldedBatchNorms: count(graph) - count(folded.right.graph),
  }
  return E.right({ graph: folded.right.graph, params: folded.right.params, info, numClasses: o.numClasses, report })
}
