// `desparsify`: the inverse of `sparsify`, giving the dense graph a sparse encoder was made from (same node
// ids, names and parameter names): the mask input and every maskLike disappear, `v · mask` becomes `v`,
// the masked statistic ops become their dense twins, and maskFill(x, m, fill) becomes x (an all-visible
// mask). Property: printGraph(desparsify(sparsify(g))) = printGraph(g). Any other use of a mask value
// (it would have no dense meaning) is an error naming the node.

import * as E from 'fp-ts/lib/Either.js'
import type { AnyNode, Graph, NodeId } from '../ir/graph.js'
import type { CompileError } from '../ir/errors.js'
import { badParams, refOf } from '../ir/errors.js'
import type { OpKind } from '../ir/ops.js'
import type { Pass } from './pass.js'

/** What a node becomes: a node to emit, an alias of another value, or a mask value (dropped). */
type Outcome = { readonly emit: AnyNode } | { readonly alias: NodeId } | { readonly mask: true }

interface Cx {
  /** Inputs with aliases resolved. */
  readonly ins: ReadonlyArray<NodeId>
  readonly isMask: (v: NodeId) => boolean
}

type Rule<K extends OpKind> = (n: Extract<AnyNode, { op: K }>, cx: Cx) => E.Either<CompileError, Outcome>

/** Keeps the node over its resolved inputs; no input may be a mask value. */
const keep = (n: AnyNode, cx: Cx): E.Either<CompileError, Outcome> =>
  cx.ins.some(cx.isMask)
    ? E.left(badParams(refOf(n), 'desparsify: reads a mask value in a way that has no dense form'))
    : E.right({ emit: { ...n, inputs: cx.ins } as AnyNode })

/** [x, m, ...rest] → the dense op over [x, ...rest], same id, name and params. */
const dense = <K extends 'batchNorm' | 'groupNorm' | 'globalAvgPool'>(op: K) => (n: AnyNode, cx: Cx): E.Either<CompileError, Outcome> => {
  const [x, m, ...rest] = cx.ins
  if (x === undefined || m === undefined || !cx.isMask(m)) return E.left(badParams(refOf(n), 'desparsify: second input is not the mask'))
  return keep({ ...n, op } as AnyNode, { ...cx, ins: [x, ...rest] })
}

/** The inverse rules, one per op kind. */
export const desparsifyRules: { readonly [K in OpKind]: Rule<K> } = {
  input: keep,
  param: keep,
  conv2d: keep,
  conv2dTranspose: keep,
  batchNorm: keep,
  layerNorm: keep,
  groupNorm: keep,
  grn: keep,
  linear: keep,
  relu: keep,
  relu6: keep,
  gelu: keep,
  silu: keep,
  sigmoid: keep,
  add: keep,
  mul: (n, cx) => {
    const [a, b] = cx.ins
    if (a !== undefined && b !== undefined && cx.isMask(b) !== cx.isMask(a)) return E.right({ alias: cx.isMask(b) ? a : b })
    return keep(n, cx)
  },
  maxPool: keep,
  avgPool: keep,
  globalAvgPool: keep,
  concat: keep,
  reshape: keep,
  transpose: keep,
  dropPath: keep,
  maskLike: () => E.right({ mask: true }),
  maskedBatchNorm: dense('batchNorm'),
  maskedGroupNorm: dense('groupNorm'),
  maskedGlobalAvgPool: dense('globalAvgPool'),
  maskFill: (n, { ins: [x] }) => (x === undefined ? E.left(badParams(refOf(n), 'missing input')) : E.right({ alias: x })),
  maskedPatchLoss: (n) => E.left(badParams(refOf(n), 'desparsify: a masked loss has no dense form')),
}

/** Removes the mask input `maskInput` and every mask op from a sparsified graph. */
export const desparsifyGraph = (g: Graph, maskInput = 'mask'): E.Either<CompileError, Graph> => {
  const alias = new Map<NodeId, NodeId>()
  const maskValues = new Set<NodeId>()
  const nodes: AnyNode[] = []
  const isMask = (v: NodeId): boolean => maskValues.has(v)
  for (const n of g.nodes) {
    if (n.op === 'input' && n.params.name === maskInput) {
      maskValues.add(n.id)
      continue
    }
    const ins = n.inputs.map((i) => alias.get(i) ?? i)
    const o = (desparsifyRules[n.op] as Rule<OpKind>)(n, { ins, isMask })
    if (E.isLeft(o)) return o
    const v = o.right
    if ('emit' in v) nodes.push(v.emit)
    else if ('alias' in v) alias.set(n.id, v.alias)
    else maskValues.add(n.id)
  }
  const outputs = g.outputs.map((o) => ({ ...o, node: alias.get(o.node) ?? o.node }))
  const bad = outputs.find((o) => maskValues.has(o.node))
  if (bad !== undefined) return E.left({ _tag: 'Invariant', pass: 'desparsify', message: `output '${bad.name}' is a mask value` })
  return E.right({ nodes, outputs })
}

/** The desparsify pass. */
export const desparsify = (maskInput = 'mask'): Pass => ({ name: 'desparsify', run: (g) => desparsifyGraph(g, maskInput) })
