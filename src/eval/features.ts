// Frozen features for the linear probe: the backbone in eval mode (BatchNorm with running statistics),
// each selected feature map global-average-pooled inside the graph (so only (B, C) comes back to the host),
// concatenated — `last`: the last (smallest) map only, as the usual linear-probe protocol; `all`: the four
// scales' pooled vectors concatenated (largest first). Compiled once for a fixed batch; the last partial
// batch is zero-padded and its extra rows dropped (eval-mode BN is per sample, so padding changes nothing).

import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../backends/backend.js'
import { formatError } from '../ir/errors.js'
import { GraphBuilder } from '../ir/builder.js'
import type { Graph } from '../ir/graph.js'
import { initParams } from '../ir/init.js'
import type { Backbone } from '../models/backbone.js'
import { concat, globalAvgPool } from '../models/layers.js'
import { evalBatch } from '../data/pipeline.js'
import type { ImageSource } from '../data/source.js'
import type { Features } from './logistic.js'
import type { BackboneParams } from './weights.js'
import { mergeParams } from './weights.js'

/** Which feature maps the probe pools: the last one, or all four concatenated. */
export type FeatureScales = 'last' | 'all'

/** The eval-mode graph: input (batch, size, size, inChannels) → output `pooled` (batch, C); Left = formatted compile error. */
export const pooledFeatureGraph = (bb: Backbone, inputSize: number, batch: number, scales: FeatureScales): E.Either<string, Graph> => {
  const b = new GraphBuilder({ training: false })
  const x = b.input('input', [batch, inputSize, inputSize, bb.inChannels])
  const feats = bb.features(x)
  const chosen = scales === 'last' ? feats.slice(-1) : feats
  const pooled = chosen.map(globalAvgPool)
  const out = pooled.length === 1 ? pooled[0] : concat(pooled, -1)
  if (out === undefined) return E.left(`${bb.name}: the backbone returned no feature maps`)
  return E.mapLeft(formatError)(b.build([['pooled', out]]))
}

/** Options of `extractFeatures`. */
export interface ExtractOptions {
  readonly inputSize: number
  readonly scales: FeatureScales
  /** Images per forward (default 250). */
  readonly batch?: number
  /** Seed of the random initialisation used for parameters the checkpoint does not give (all of them without one). */
  readonly seed: number
  readonly params?: BackboneParams
}

/** Pooled features of every image of each source (one compile, shared by the sources). */
export const extractFeatures = async (backend: Backend, bb: Backbone, sources: ReadonlyArray<ImageSource>, o: ExtractOptions): Promise<E.Either<string, ReadonlyArray<Features>>> => {
  // Never compile for more rows than the largest source has (tiny subsets in tests and quick runs).
  const batch = Math.max(1, Math.min(o.batch ?? 250, ...sources.map((s) => s.size)))
  const g = pooledFeatureGraph(bb, o.inputSize, batch, o.scales)
  if (E.isLeft(g)) return g
  const init = initParams(g.right, o.seed)
  const merged = o.params === undefined ? E.right({ params: init }) : mergeParams(g.right, init, o.params)
  if (E.isLeft(merged)) return merged
  const exe = backend.compile(g.right, { inputShapes: { input: [batch, o.inputSize, o.inputSize, bb.inChannels] }, params: merged.right.params })
  if (E.isLeft(exe)) return E.left(formatError(exe.left))
  try {
    const out: Features[] = []
    for (const src of sources) {
      if (src.channels !== bb.inChannels) return E.left(`${src.name} has ${src.channels} channel(s), the model takes ${bb.inChannels}`)
      let data: Float32Array | undefined
      let d = 0
      for (let start = 0; start < src.size; start += batch) {
        const eb = evalBatch(src, o.inputSize, start, batch)
        if (E.isLeft(eb)) return eb
        const n = eb.right.indices.length
        const input = new Float32Array(batch * o.inputSize * o.inputSize * bb.inChannels)
        input.set(eb.right.input.data)
        const r = await exe.right.run(new Map([['input', { shape: [batch, o.inputSize, o.inputSize, bb.inChannels], data: input }]]))
        const pooled = r.get('pooled')
        if (pooled === undefined) return E.left('internal: no pooled output')
        d = pooled.shape[1] ?? 0
        data ??= new Float32Array(src.size * d)
        data.set(pooled.data.subarray(0, n * d), start * d)
      }
      out.push({ n: src.size, d, data: data ?? new Float32Array(0) })
    }
    return E.right(out)
  } finally {
    exe.right.dispose()
  }
}
