// Helpers shared by the model tests: build a backbone or fail loudly, count trainable parameters
// (PyTorch's `sum(p.numel() for p in model.parameters())`: BN running stats excluded), look parameters
// up by name, and infer the feature shapes for a concrete input.

import * as E from 'fp-ts/lib/Either.js'
import fc from 'fast-check'
import type { Backbone, BuildOptions, Model } from '../../src/models/backbone.js'
import { buildBackbone } from '../../src/models/backbone.js'
import { formatError } from '../../src/ir/errors.js'
import type { Node } from '../../src/ir/graph.js'
import { graphParams } from '../../src/ir/graph.js'
import { inferTypes } from '../../src/ir/infer.js'
import type { Shape } from '../../src/ir/types.js'

/** Builds a backbone, throwing the formatted compile error on failure. */
export const build = (bb: Backbone, o: BuildOptions = {}): Model => {
  const m = buildBackbone(bb, o)
  if (E.isLeft(m)) throw new Error(formatError(m.left))
  return m.right
}

const size = (s: ReadonlyArray<number>): number => s.reduce((a, b) => a * b, 1)

/** Trainable parameter count. */
export const countTrainable = (m: Model): number =>
  graphParams(m.graph)
    .filter((p) => p.params.trainable)
    .reduce((a, p) => a + size(p.params.shape), 0)

/** Parameter nodes by name. */
export const paramsByName = (m: Model): ReadonlyMap<string, Node<'param'>['params']> => new Map(graphParams(m.graph).map((p) => [p.params.name, p.params]))

/** Shapes of `features.i` outputs for a concrete NHWC input shape. */
export const featureShapes = (m: Model, input: Shape): ReadonlyArray<Shape> => {
  const t = inferTypes(m.graph, { input })
  if (E.isLeft(t)) throw new Error(formatError(t.left))
  return m.graph.outputs.filter((o) => o.name.startsWith('features.')).map((o) => t.right.get(o.node)?.shape ?? [])
}

/** The expected feature shapes of a stride-4/8/16/32 backbone for a (batch, h, w) input. */
export const expectedFeatureShapes = (bb: Backbone, batch: number, h: number, w: number): ReadonlyArray<Shape> =>
  bb.featureChannels.map((c, i) => [batch, h / 2 ** (i + 2), w / 2 ** (i + 2), c])

/** fast-check seed from env FC_SEED (reproducible runs); undefined = fast-check's own random seed, reported on failure. */
export const fcSeed = (): { readonly seed?: number } => {
  const s = process.env['FC_SEED']
  return s === undefined ? {} : { seed: Number(s) }
}

/** Four independent draws (per-stage depths or widths). */
export const four = (a: fc.Arbitrary<number>): fc.Arbitrary<readonly [number, number, number, number]> => fc.tuple(a, a, a, a)
