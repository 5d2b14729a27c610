// Static cost of a graph: parameter counts and multiply–accumulates (MACs) per image, computed from the
// param nodes and the inferred types, so `sparkts inspect` and the benchmark can report model size and
// achieved FLOP/s without running anything. Counting convention (as fvcore and thop): only the
// multiply–accumulates of conv2d, conv2dTranspose and linear are counted; normalisations, activations,
// pooling, elementwise ops, bias additions and data movement count 0. FLOPs = 2 · MACs. Written here
// rather than taken from a library because it must read sparkts' own IR (no counter understands it).

import * as E from 'fp-ts/lib/Either.js'
import type { AnyNode, Graph, Node } from './graph.js'
import { graphParams } from './graph.js'
import type { OpKind } from './ops.js'
import type { CompileError } from './errors.js'
import { refOf, shapeMismatch } from './errors.js'
import type { Types } from './infer.js'
import type { Dim, Shape, TensorType } from './types.js'

/** Parameter counts, split by the `trainable` flag (BN running statistics are non-trainable). */
export interface ParamCounts {
  readonly trainable: number
  readonly nonTrainable: number
}

/** Counts the scalar parameters of a graph's param nodes. */
export const countParams = (g: Graph): ParamCounts => {
  let trainable = 0
  let nonTrainable = 0
  for (const p of graphParams(g)) {
    const n = p.params.shape.reduce((a, b) => a * b, 1)
    if (p.params.trainable) trainable += n
    else nonTrainable += n
  }
  return { trainable, nonTrainable }
}

/** MACs of one node per image (batch excluded), given its input types and output type; null = unknown size. */
export type MacRule<K extends OpKind> = (n: Node<K>, ins: ReadonlyArray<TensorType>, out: TensorType) => number | null

const product = (ds: ReadonlyArray<Dim>): number | null => {
  let p = 1
  for (const d of ds) {
    if (d === null) return null
    p *= d
  }
  return p
}

const zero: MacRule<OpKind> = () => 0

// Output positions per image × every weight element: Ho·Wo · kh·kw·(cin/groups)·cout.
const convMacs: MacRule<'conv2d'> = (_n, [, w], out) => {
  const pw = product(w?.shape ?? [null])
  const pos = product(out.shape.slice(1, 3))
  return pw === null || pos === null ? null : pw * pos
}

// Every input position scatters into kh·kw·cout outputs per input channel: H·W · kh·kw·cout·cin.
const convTransposeMacs: MacRule<'conv2dTranspose'> = (_n, [x, w]) => {
  const pw = product(w?.shape ?? [null])
  const pos = product(x?.shape.slice(1, 3) ?? [null])
  return pw === null || pos === null ? null : pw * pos
}

// Positions per image (every axis but batch and the last) × in · out.
const linearMacs: MacRule<'linear'> = (_n, [x, w]) => {
  const pw = product(w?.shape ?? [null])
  const pos = product(x?.shape.slice(1, -1) ?? [null])
  return pw === null || pos === null ? null : pw * pos
}

/** MAC rules of every op (0 for every op but conv2d, conv2dTranspose and linear; the SparK mask ops are normalisation/data movement: 0). */
export const macRules: { readonly [K in OpKind]: MacRule<K> } = {
  input: zero,
  param: zero,
  conv2d: convMacs,
  conv2dTranspose: convTransposeMacs,
  batchNorm: zero,
  layerNorm: zero,
  groupNorm: zero,
  grn: zero,
  linear: linearMacs,
  relu: zero,
  relu6: zero,
  gelu: zero,
  silu: zero,
  sigmoid: zero,
  add: zero,
  mul: zero,
  maxPool: zero,
  avgPool: zero,
  globalAvgPool: zero,
  concat: zero,
  reshape: zero,
  transpose: zero,
  dropPath: zero,
  maskLike: zero,
  maskedBatchNorm: zero,
  maskedGroupNorm: zero,
  maskedGlobalAvgPool: zero,
  maskFill: zero,
  maskedPatchLoss: zero,
}

/** MACs of one node per image; Left when a size it needs is still unknown. */
export const nodeMacs = (n: AnyNode, types: Types): E.Either<CompileError, number> => {
  const out = types.get(n.id)
  const ins = n.inputs.map((i) => types.get(i))
  if (out === undefined || ins.some((t) => t === undefined))
    return E.left({ _tag: 'Invariant', pass: 'cost', message: `no inferred type for node %${n.id} or its inputs` })
  const defined = ins.filter((t): t is TensorType => t !== undefined)
  const m = (macRules[n.op] as MacRule<OpKind>)(n, defined, out)
  if (m !== null) return E.right(m)
  const shapes: Array<readonly [string, Shape]> = [...defined.map((t, i) => [`in${i}`, t.shape] as const), ['out', out.shape]]
  return E.left(shapeMismatch(refOf(n), 'MACs need concrete spatial and channel sizes (give an input size)', shapes))
}

/** A graph's cost per image. */
export interface GraphCost extends ParamCounts {
  /** Multiply–accumulates per image (conv2d, conv2dTranspose, linear only). */
  readonly macsPerImage: number
  /** MACs per image by op kind (only kinds with a non-zero count). */
  readonly macsByOp: Readonly<Partial<Record<OpKind, number>>>
}

/** Parameter counts and MACs per image of a graph, from types inferred with concrete spatial sizes. */
export const graphCost = (g: Graph, types: Types): E.Either<CompileError, GraphCost> => {
  const byOp: Partial<Record<OpKind, number>> = {}
  let total = 0
  for (const n of g.nodes) {
    const m = nodeMacs(n, types)
    if (E.isLeft(m)) return m
    if (m.right > 0) byOp[n.op] = (byOp[n.op] ?? 0) + m.right
    total += m.right
  }
  return E.right({ ...countParams(g), macsPerImage: total, macsByOp: byOp })
}
