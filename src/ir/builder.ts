// The builder: a mutable-inside recorder that produces a frozen Graph. User code composes
// `Value → Value` functions (pipe-friendly, see src/models/layers.ts); each new node's type is inferred
// at once so that layer helpers can read channel counts. Errors do not throw: the builder keeps the
// first one and `build()` returns it as `Left`, naming the node, the op and the shapes.

import * as E from 'fp-ts/lib/Either.js'
import type { AnyNode, Graph, GraphOutput, NodeId } from './graph.js'
import { nodeId } from './graph.js'
import type { Init, OpKind, OpParams } from './ops.js'
import type { CompileError } from './errors.js'
import { badParams, refOf } from './errors.js'
import type { Shape, TensorType } from './types.js'
import { f32 } from './types.js'
import { checkArity, inferNode } from './infer.js'
import { verify } from './verify.js'

/** A value being built: a node of a builder with its inferred type. */
export interface Value {
  readonly builder: GraphBuilder
  readonly id: NodeId
  readonly type: TensorType
}

/** Options of a builder. */
export interface BuilderOptions {
  /** Training mode: batchNorm uses batch statistics, dropPath is active. */
  readonly training?: boolean
}

/** Records nodes; `build` freezes them into a verified Graph. */
export class GraphBuilder {
  readonly training: boolean
  #nodes: AnyNode[] = []
  #nextId = 0
  #error: CompileError | undefined
  #names = new Set<string>()

  constructor(opts: BuilderOptions = {}) {
    this.training = opts.training ?? false
  }

  /** The first error recorded, if any. */
  get error(): CompileError | undefined {
    return this.#error
  }

  /** Records an error (only the first is kept) and returns an untyped placeholder value. */
  fail(e: CompileError): Value {
    this.#error ??= e
    return { builder: this, id: nodeId(-1), type: f32([]) }
  }

  /** Adds a node of kind K; its type is inferred immediately. */
  node<K extends OpKind>(op: K, inputs: ReadonlyArray<Value>, params: OpParams[K], name?: string): Value {
    const id = nodeId(this.#nextId)
    const n = { id, op, inputs: inputs.map((v) => v.id), params, ...(name === undefined ? {} : { name }) } as AnyNode
    if (inputs.some((v) => v.builder !== this)) return this.fail(badParams(refOf(n), 'input value belongs to another builder'))
    if (inputs.some((v) => v.id < 0)) return this.fail(this.#error ?? badParams(refOf(n), 'input comes from a failed node'))
    const t = E.flatMap((m: AnyNode) => inferNode(m, inputs.map((v) => v.type)))(checkArity(n))
    if (E.isLeft(t)) return this.fail(t.left)
    this.#nodes.push(n)
    this.#nextId++
    return { builder: this, id, type: t.right }
  }

  /**
   * Continues building on an existing graph (e.g. the output of a pass): its nodes keep their ids and
   * types; `valueOf` gives the value of any of them, and `outputs` its named outputs.
   */
  static extend(g: Graph, opts: BuilderOptions = {}): E.Either<CompileError, { readonly builder: GraphBuilder; readonly valueOf: (id: NodeId) => Value; readonly outputs: ReadonlyMap<string, Value> }> {
    const types = verify(g)
    if (E.isLeft(types)) return types
    const b = new GraphBuilder(opts)
    b.#nodes = [...g.nodes]
    b.#nextId = g.nodes.reduce((m, n) => Math.max(m, n.id + 1), 0)
    for (const n of g.nodes) if (n.op === 'param') b.#names.add(n.params.name)
    const valueOf = (id: NodeId): Value => ({ builder: b, id, type: types.right.get(id) ?? f32([]) })
    return E.right({ builder: b, valueOf, outputs: new Map(g.outputs.map((o) => [o.name, valueOf(o.node)])) })
  }

  /** A graph input, NHWC; null dims are given at compile time. */
  input(name: string, shape: Shape): Value {
    return this.node('input', [], { name, shape }, name)
  }

  /** A named parameter (PyTorch state_dict key) in sparkts layout. */
  param(name: string, shape: ReadonlyArray<number>, init: Init, trainable = true): Value {
    if (this.#names.has(name)) return this.fail({ _tag: 'DuplicateName', kind: 'param', name })
    this.#names.add(name)
    return this.node('param', [], { name, shape, trainable, init }, name)
  }

  /** Freezes the recorded nodes with the given named outputs and verifies the result. */
  build(outputs: ReadonlyArray<readonly [string, Value]>): E.Either<CompileError, Graph> {
    if (this.#error !== undefined) return E.left(this.#error)
    const outs: GraphOutput[] = outputs.map(([name, v]) => ({ name, node: v.id }))
    const g: Graph = { nodes: [...this.#nodes], outputs: outs }
    return E.map(() => g)(verify(g))
  }
}

/** Channels (last dim) of a value, or records an error naming the op that needs them. */
export const channelsOf = (x: Value, who: string): number | undefined => {
  const c = x.type.shape[x.type.shape.length - 1]
  if (typeof c === 'number') return c
  x.builder.fail({ _tag: 'Invariant', pass: 'build', message: `${who}: channel count of its input is unknown (shape rank ${x.type.shape.length})` })
  return undefined
}
