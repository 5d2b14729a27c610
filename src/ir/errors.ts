// Compile-time errors are tagged data carried through Either. Every variant that concerns a node names
// it (id, module path, op) and the shapes involved, so a message can be printed without the graph.

import type { Shape } from './types.js'
import { showShape } from './types.js'
import type { OpKind } from './ops.js'
import type { NodeId } from './graph.js'

/** What an error says about the node it concerns. */
export interface NodeRef {
  readonly id: NodeId
  readonly op: OpKind
  readonly name?: string
}

/** Every compile-time error. */
export type CompileError =
  | { readonly _tag: 'ShapeMismatch'; readonly node: NodeRef; readonly what: string; readonly shapes: ReadonlyArray<readonly [string, Shape]> }
  | { readonly _tag: 'BadParams'; readonly node: NodeRef; readonly message: string }
  | { readonly _tag: 'BadArity'; readonly node: NodeRef; readonly expected: string; readonly got: number }
  | { readonly _tag: 'UnknownNode'; readonly node: NodeRef; readonly missing: NodeId }
  | { readonly _tag: 'NotTopological'; readonly node: NodeRef; readonly input: NodeId }
  | { readonly _tag: 'DuplicateName'; readonly kind: 'input' | 'param' | 'output' | 'node'; readonly name: string }
  | { readonly _tag: 'MissingInput'; readonly name: string; readonly known: ReadonlyArray<string> }
  | { readonly _tag: 'Unsupported'; readonly node: NodeRef; readonly backend: string; readonly reason: string }
  | { readonly _tag: 'Invariant'; readonly pass: string; readonly message: string }

const showRef = (n: NodeRef): string => `node %${n.id}${n.name === undefined ? '' : ` '${n.name}'`} (${n.op})`

/** One-line human message for an error. */
export const formatError = (e: CompileError): string => {
  switch (e._tag) {
    case 'ShapeMismatch':
      return `${showRef(e.node)}: ${e.what}; ${e.shapes.map(([k, s]) => `${k} ${showShape(s)}`).join(', ')}`
    case 'BadParams':
      return `${showRef(e.node)}: ${e.message}`
    case 'BadArity':
      return `${showRef(e.node)}: expects ${e.expected} input(s), got ${e.got}`
    case 'UnknownNode':
      return `${showRef(e.node)}: input %${e.missing} does not exist`
    case 'NotTopological':
      return `${showRef(e.node)}: input %${e.input} is defined after it (graph not in topological order)`
    case 'DuplicateName':
      return `duplicate ${e.kind} name '${e.name}'`
    case 'MissingInput':
      return `no value for graph input '${e.name}' (inputs: ${e.known.join(', ')})`
    case 'Unsupported':
      return `${showRef(e.node)}: not supported by backend ${e.backend}: ${e.reason}`
    case 'Invariant':
      return `after pass ${e.pass}: ${e.message}`
  }
}

/** Builds a NodeRef from a node. */
export const refOf = (n: { readonly id: NodeId; readonly op: OpKind; readonly name?: string }): NodeRef =>
  n.name === undefined ? { id: n.id, op: n.op } : { id: n.id, op: n.op, name: n.name }

/** Shape-mismatch error constructor. */
export const shapeMismatch = (
  n: NodeRef,
  what: string,
  shapes: ReadonlyArray<readonly [string, Shape]>,
): CompileError => ({ _tag: 'ShapeMismatch', node: n, what, shapes })

/** Bad-params error constructor. */
export const badParams = (n: NodeRef, message: string): CompileError => ({ _tag: 'BadParams', node: n, message })

/** Throws on an impossible state (never for user or graph errors). */
export const assertNever = (x: never): never => {
  throw new Error(`unreachable: ${JSON.stringify(x)}`)
}
