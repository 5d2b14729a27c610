// Inference-time BatchNorm folding: conv2d → batchNorm(training false) becomes one conv2d whose weight and
// bias absorb the normalisation, y = (conv(x, W) + b − μ)·γ/√(σ²+ε) + β = conv(x, W·s) + (b − μ)·s + β
// with s = γ/√(σ²+ε) per output channel (the last axis of an HWIO weight).
// Why a ParamPass and not a Pass: sparkts graphs hold parameter *declarations* (name, shape, init), never
// values, so a graph-only rewrite cannot produce the folded weights. Folding therefore maps
// (graph, params) → (graph, params) in one step; the input pair is never mutated and the output graph is
// verified before it is returned. Only convs whose sole user is the BN (and that are not graph outputs),
// with weight/bias params read by nobody else, are folded — anything else would change another value.

import * as E from 'fp-ts/lib/Either.js'
import type { AnyNode, Graph, NodeId } from '../ir/graph.js'
import { graphParams, nodeId, users } from '../ir/graph.js'
import type { CompileError } from '../ir/errors.js'
import { badParams, formatError, refOf } from '../ir/errors.js'
import type { HostTensor } from '../ir/types.js'
import { showShape } from '../ir/types.js'
import { verify } from '../ir/verify.js'
import { eliminateDeadCode } from './eliminate-dead-code.js'

/** A graph together with the values of its parameters (by PyTorch name). */
export interface Parameterised {
  readonly graph: Graph
  readonly params: ReadonlyMap<string, HostTensor>
}

/** A rewrite that needs (and may change) parameter values as well as the graph. */
export interface ParamPass {
  readonly name: string
  readonly run: (m: Parameterised) => E.Either<CompileError, Parameterised>
}

interface Fold {
  readonly conv: Extract<AnyNode, { op: 'conv2d' }>
  readonly bn: Extract<AnyNode, { op: 'batchNorm' }>
}

/** The conv → BN pairs that can be folded without changing any other value. */
const foldable = (g: Graph): ReadonlyArray<Fold> => {
  const byId = new Map(g.nodes.map((n) => [n.id, n]))
  const use = users(g)
  const outputs = new Set(g.outputs.map((o) => o.node))
  const onlyUser = (id: NodeId | undefined, user: NodeId): boolean => id !== undefined && (use.get(id) ?? []).every((u) => u === user) && !outputs.has(id)
  const isParam = (id: NodeId | undefined): boolean => id !== undefined && byId.get(id)?.op === 'param'
  const out: Fold[] = []
  for (const bn of g.nodes) {
    if (bn.op !== 'batchNorm' || bn.params.training) continue
    const conv = byId.get(bn.inputs[0] ?? nodeId(-1))
    if (conv === undefined || conv.op !== 'conv2d' || (use.get(conv.id) ?? []).length !== 1 || outputs.has(conv.id)) continue
    const [, w, b] = conv.inputs
    if (!isParam(w) || !onlyUser(w, conv.id) || (b !== undefined && (!isParam(b) || !onlyUser(b, conv.id)))) continue
    out.push({ conv, bn })
  }
  return out
}

const paramName = (byId: ReadonlyMap<NodeId, AnyNode>, id: NodeId | undefined): string | undefined => {
  const n = id === undefined ? undefined : byId.get(id)
  return n?.op === 'param' ? n.params.name : undefined
}

/** A fresh name for the folded bias of a conv whose weight is `w` (PyTorch style `<conv>.bias`). */
const biasNameFor = (w: string, taken: ReadonlySet<string>): string => {
  const base = w.endsWith('.weight') ? `${w.slice(0, -'.weight'.length)}.bias` : `${w}.bias`
  if (!taken.has(base)) return base
  let i = 0
  while (taken.has(`${base}.folded${i}`)) i++
  return `${base}.folded${i}`
}

/** Folds every eligible conv2d → batchNorm(inference) pair; BN params that become unused are dropped. */
export const foldBatchNorm: ParamPass = {
  name: 'foldBatchNorm',
  run: ({ graph, params }) => {
    const folds = foldable(graph)
    if (folds.length === 0) return E.right({ graph, params })
    const byId = new Map(graph.nodes.map((n) => [n.id, n]))
    const values = new Map(params)
    const taken = new Set(graphParams(graph).map((p) => p.params.name))
    let next = graph.nodes.reduce((m, n) => Math.max(m, n.id + 1), 0)
    const replacedBy = new Map<NodeId, NodeId>()
    const newConv = new Map<NodeId, AnyNode>()
    const newBias = new Map<NodeId, AnyNode>()
    for (const { conv, bn } of folds) {
      const get = (id: NodeId | undefined, what: string): E.Either<CompileError, HostTensor> => {
        const name = paramName(byId, id)
        const v = name === undefined ? undefined : values.get(name)
        return v === undefined ? E.left(badParams(refOf(bn), `cannot fold: no value for the ${what} '${name ?? '?'}'`)) : E.right(v)
      }
      const wName = paramName(byId, conv.inputs[1]) ?? ''
      const got = [get(conv.inputs[1], 'conv weight'), ...[1, 2, 3, 4].map((i) => get(bn.inputs[i], `batch-norm input ${i}`))]
      const vals: HostTensor[] = []
      for (const x of got) {
        if (E.isLeft(x)) return x
        vals.push(x.right)
      }
      const [w, gamma, beta, mean, variance] = vals
      if (w === undefined || gamma === undefined || beta === undefined || mean === undefined || variance === undefined) continue
      const cout = w.shape[w.shape.length - 1] ?? 0
      const vecs = [gamma, beta, mean, variance]
      if (w.shape.length !== 4 || vecs.some((v) => v.data.length !== cout))
        return E.left(badParams(refOf(bn), `cannot fold: conv weight ${showShape(w.shape)} and batch-norm vectors ${vecs.map((v) => showShape(v.shape)).join(' ')} disagree on the channel count`))
      const biasId = conv.inputs[2]
      const oldBias = biasId === undefined ? undefined : get(biasId, 'conv bias')
      if (oldBias !== undefined && E.isLeft(oldBias)) return oldBias
      const scale = Float64Array.from(gamma.data, (gm, o) => gm / Math.sqrt((variance.data[o] ?? 0) + bn.params.eps))
      const wData = new Float32Array(w.data.length)
      for (let i = 0; i < wData.length; i++) wData[i] = (w.data[i] ?? 0) * (scale[i % cout] ?? 0)
      const b0 = oldBias === undefined ? undefined : oldBias.right.data
      const bData = Float32Array.from(scale, (s, o) => (beta.data[o] ?? 0) + ((b0?.[o] ?? 0) - (mean.data[o] ?? 0)) * s)
      values.set(wName, { shape: w.shape, data: wData })
      let bNode: NodeId
      if (biasId !== undefined) {
        values.set(paramName(byId, biasId) ?? '', { shape: [cout], data: bData })
        bNode = biasId
      } else {
        const name = biasNameFor(wName, taken)
        taken.add(name)
        bNode = nodeId(next++)
        newBias.set(conv.id, { id: bNode, op: 'param', inputs: [], params: { name, shape: [cout], trainable: true, init: { kind: 'zeros' } }, name })
        values.set(name, { shape: [cout], data: bData })
      }
      newConv.set(conv.id, { ...conv, inputs: [conv.inputs[0] ?? nodeId(-1), conv.inputs[1] ?? nodeId(-1), bNode] })
      replacedBy.set(bn.id, conv.id)
    }
    const re = (id: NodeId): NodeId => replacedBy.get(id) ?? id
    const nodes: AnyNode[] = []
    for (const n of graph.nodes) {
      if (replacedBy.has(n.id)) continue
      const bias = newBias.get(n.id)
      if (bias !== undefined) nodes.push(bias)
      const m = newConv.get(n.id) ?? n
      nodes.push(m.inputs.some((i) => replacedBy.has(i)) ? { ...m, inputs: m.inputs.map(re) } : m)
    }
    const rewired: Graph = { nodes, outputs: graph.outputs.map((o) => ({ ...o, node: re(o.node) })) }
    const pruned = eliminateDeadCode.run(rewired)
    if (E.isLeft(pruned)) return pruned
    const checked = verify(pruned.right)
    if (E.isLeft(checked)) return E.left({ _tag: 'Invariant', pass: 'foldBatchNorm', message: formatError(checked.left) })
    const keep = new Set(graphParams(pruned.right).map((p) => p.params.name))
    return E.right({ graph: pruned.right, params: new Map([...values].filter(([k]) => keep.has(k))) })
  },
}
