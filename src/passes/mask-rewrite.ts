// The rewrite driver behind `sparsify`: walks a dense graph in order and lets one rule per op decide what
// each node becomes, while it owns the bookkeeping the rules should not see: original nodes keep their ids
// and names (so printGraph and errors still say `layer1.0.conv1`), new nodes get fresh ids after the
// largest one, consumers read the rewritten value of each original node, and one `maskLike` per concrete
// resolution is shared. It also tracks, per original node, whether its value is zero at masked positions
// ("masked"), spatial and possibly non-zero there ("leaky", with the node that made it so), or not spatial
// ("global": rank 2, or broadcast over H and W), and turns a leak into an error naming both nodes.

import * as E from 'fp-ts/lib/Either.js'
import type { AnyNode, Graph, NodeId } from '../ir/graph.js'
import { nodeId } from '../ir/graph.js'
import type { CompileError, NodeRef } from '../ir/errors.js'
import { badParams, refOf } from '../ir/errors.js'
import type { Types } from '../ir/infer.js'
import type { OpKind, OpParams } from '../ir/ops.js'
import type { Shape } from '../ir/types.js'

/** What is known about a value at masked positions. */
export type MaskState = { readonly kind: 'masked' } | { readonly kind: 'global' } | { readonly kind: 'leaky'; readonly source: NodeRef }

/** State constructors. */
export const masked: MaskState = { kind: 'masked' }
export const global: MaskState = { kind: 'global' }
export const leaky = (source: NodeRef): MaskState => ({ kind: 'leaky', source })

/** What a rule returns: the value consumers of the original node read, and its state. */
export interface Rewritten {
  readonly value: NodeId
  readonly state: MaskState
}

/** What a rule sees and can do. */
export interface RewriteCtx {
  /** Rewritten inputs of the node (same order as the original inputs). */
  readonly ins: ReadonlyArray<NodeId>
  /** States of the inputs. */
  readonly states: ReadonlyArray<MaskState>
  /** Declared (possibly symbolic) output shape of the original node. */
  readonly shape: Shape
  /** Emits the original node (same id, name, params) over `inputs` (default: the rewritten inputs). */
  readonly keep: (inputs?: ReadonlyArray<NodeId>) => NodeId
  /** Emits the node under the same id and name as another op kind. */
  readonly replace: <K extends OpKind>(op: K, inputs: ReadonlyArray<NodeId>, params: OpParams[K]) => NodeId
  /** The mask at the resolution of value `v` of shape `shape`, (B,H,W,1). */
  readonly maskAt: (v: NodeId, shape: Shape) => NodeId
  /** `v · maskAt(v)`: re-masks a value, named after the node. */
  readonly remask: (v: NodeId) => NodeId
  /** The graph's mask input (emitted on first use). */
  readonly maskInput: () => NodeId
  /** Left when one of the inputs (by index, default all) is leaky: the error names the leak and this node. */
  readonly noLeak: (which?: ReadonlyArray<number>) => E.Either<CompileError, void>
}

/** A rule: what one original node becomes. */
export type RewriteRule<K extends OpKind> = (n: Extract<AnyNode, { op: K }>, cx: RewriteCtx) => E.Either<CompileError, Rewritten>

/** The error for a leaky value reaching a consumer that would spread it. */
export const leakError = (source: NodeRef, consumer: string): CompileError =>
  badParams(source, `is non-zero at masked positions (leaky) and reaches ${consumer}; re-mask it first (multiply it by a masked value), or sparsify cannot keep masked positions at 0`)

const showRef = (n: NodeRef): string => `node %${n.id}${n.name === undefined ? '' : ` '${n.name}'`} (${n.op})`

/** Result of a rewrite: the graph, and per original node the value that replaces it and its state. */
export interface RewriteResult {
  readonly graph: Graph
  readonly values: ReadonlyMap<NodeId, NodeId>
  readonly states: ReadonlyMap<NodeId, MaskState>
}

/** Rewrites `g` (typed by `types`) with `rule`; `maskNode(id)` builds the mask input node under a fresh id. */
export const rewriteGraph = (
  g: Graph,
  types: Types,
  rule: (n: AnyNode, cx: RewriteCtx) => E.Either<CompileError, Rewritten>,
  maskNode: (id: NodeId) => AnyNode,
): E.Either<CompileError, RewriteResult> => {
  const out: AnyNode[] = []
  const values = new Map<NodeId, NodeId>()
  const states = new Map<NodeId, MaskState>()
  const shapes = new Map<NodeId, Shape>(g.nodes.map((n) => [n.id, types.get(n.id)?.shape ?? []]))
  let next = Math.max(-1, ...g.nodes.map((n) => n.id)) + 1
  let mask: NodeId | undefined
  const cache = new Map<string, NodeId>()
  const emit = <K extends OpKind>(op: K, inputs: ReadonlyArray<NodeId>, params: OpParams[K], name: string | undefined, shape: Shape, id = nodeId(next++)): NodeId => {
    out.push({ id, op, inputs, params, ...(name === undefined ? {} : { name }) } as AnyNode)
    shapes.set(id, shape)
    return id
  }
  for (const n of g.nodes) {
    const ins = n.inputs.map((i) => values.get(i) ?? i)
    const inStates = n.inputs.map((i) => states.get(i) ?? global)
    const base = n.name ?? `%${n.id}`
    const maskInput = (): NodeId => {
      if (mask === undefined) {
        const m = maskNode(nodeId(next++))
        out.push(m)
        shapes.set(m.id, m.op === 'input' ? m.params.shape : [])
        mask = m.id
      }
      return mask
    }
    const maskAt = (v: NodeId, shape: Shape): NodeId => {
      const [b, h, w] = [shape[0] ?? null, shape[1] ?? null, shape[2] ?? null]
      const key = h !== null && w !== null ? `${h}x${w}` : undefined
      const hit = key === undefined ? undefined : cache.get(key)
      if (hit !== undefined) return hit
      const m = emit('maskLike', [maskInput(), v], {}, key === undefined ? `${base}.mask` : `mask.${key}`, [b, h, w, 1])
      if (key !== undefined) cache.set(key, m)
      return m
    }
    const cx: RewriteCtx = {
      ins,
      states: inStates,
      shape: shapes.get(n.id) ?? [],
      keep: (inputs = ins) => emit(n.op, inputs, n.params, n.name, shapes.get(n.id) ?? [], n.id),
      replace: (op, inputs, params) => emit(op, inputs, params, n.name, shapes.get(n.id) ?? [], n.id),
      maskAt,
      remask: (v) => {
        const s = shapes.get(v) ?? []
        return emit('mul', [v, maskAt(v, s)], {}, `${base}.masked`, s)
      },
      maskInput,
      noLeak: (which) => {
        for (const [i, s] of inStates.entries())
          if (s.kind === 'leaky' && (which === undefined || which.includes(i))) return E.left(leakError(s.source, showRef(refOf(n))))
        return E.right(undefined)
      },
    }
    const r = rule(n, cx)
    if (E.isLeft(r)) return r
    values.set(n.id, r.right.value)
    states.set(n.id, r.right.state)
  }
  for (const o of g.outputs) {
    const s = states.get(o.node)
    if (s?.kind === 'leaky') return E.left(leakError(s.source, `output '${o.name}'`))
  }
  return E.right({ graph: { nodes: out, outputs: g.outputs.map((o) => ({ ...o, node: values.get(o.node) ?? o.node })) }, values, states })
}
