// The graph: immutable data. A node is `{ id, op, inputs, params }` (+ an optional human name, the
// PyTorch module path, used in errors). Edges are uniform (`inputs: NodeId[]`), so topological order,
// users and dead-code elimination are generic. Node order in `nodes` is a topological order (verified).

import type { OpKind, OpParams } from './ops.js'

declare const brand: unique symbol
/** A nominal type over T. */
export type Brand<T, B extends string> = T & { readonly [brand]: B }

/** Identifier of a node, unique within its graph. */
export type NodeId = Brand<number, 'NodeId'>

/** Makes a NodeId from a number. */
export const nodeId = (n: number): NodeId => n as NodeId

/** A node of op kind K. */
export interface Node<K extends OpKind = OpKind> {
  readonly id: NodeId
  readonly op: K
  readonly inputs: ReadonlyArray<NodeId>
  readonly params: OpParams[K]
  /** Module path in PyTorch terms (e.g. `layer1.0.conv1`), for errors and printing. */
  readonly name?: string
}

/** Union of nodes of every kind; `switch (n.op)` narrows `n.params`. */
export type AnyNode = { [K in OpKind]: Node<K> }[OpKind]

/** A named graph output (e.g. `features.0`, `logits`). */
export interface GraphOutput {
  readonly name: string
  readonly node: NodeId
}

/** An immutable graph. */
export interface Graph {
  /** Nodes in a topological order. */
  readonly nodes: ReadonlyArray<AnyNode>
  readonly outputs: ReadonlyArray<GraphOutput>
}

/** Index of a graph's nodes by id. */
export const indexNodes = (g: Graph): ReadonlyMap<NodeId, AnyNode> => new Map(g.nodes.map((n) => [n.id, n]))

/** Narrows a node to kind K. */
export const isOp = <K extends OpKind>(n: AnyNode, op: K): n is Extract<AnyNode, { op: K }> => n.op === op

/** The graph's input nodes, in order. */
export const graphInputs = (g: Graph): ReadonlyArray<Node<'input'>> =>
  g.nodes.filter((n): n is Node<'input'> => n.op === 'input')

/** The graph's parameter nodes, in order. */
export const graphParams = (g: Graph): ReadonlyArray<Node<'param'>> =>
  g.nodes.filter((n): n is Node<'param'> => n.op === 'param')

/** Users of every node (the nodes that read it). */
export const users = (g: Graph): ReadonlyMap<NodeId, ReadonlyArray<NodeId>> => {
  const out = new Map<NodeId, NodeId[]>()
  for (const n of g.nodes) for (const i of n.inputs) out.set(i, [...(out.get(i) ?? []), n.id])
  return out
}

/** A short human label: `%12 layer1.0.conv1 (conv2d)`. */
export const describeNode = (n: Pick<AnyNode, 'id' | 'op' | 'name'>): string =>
  `%${n.id}${n.name === undefined ? '' : ` ${n.name}`} (${n.op})`
