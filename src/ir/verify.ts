// Graph invariants as executable code (tinygrad `type_verify`, torch.fx `graph.lint()`): ids unique,
// inputs defined earlier (topological order), arity, unique input/param/output names, outputs exist,
// and every node's type derivable by the shape rules. Pipelines run it after every pass.

import * as E from 'fp-ts/lib/Either.js'
import type { Graph, NodeId } from './graph.js'
import type { CompileError } from './errors.js'
import { refOf } from './errors.js'
import type { Shape } from './types.js'
import type { Types } from './infer.js'
import { inferTypes } from './infer.js'

const firstDuplicate = (xs: ReadonlyArray<string>): string | undefined => {
  const seen = new Set<string>()
  for (const x of xs) {
    if (seen.has(x)) return x
    seen.add(x)
  }
  return undefined
}

/** Checks structural invariants and infers types; returns the types on success. */
export const verify = (g: Graph, inputShapes: Readonly<Record<string, Shape>> = {}): E.Either<CompileError, Types> => {
  const defined = new Set<NodeId>()
  const all = new Set(g.nodes.map((n) => n.id))
  for (const n of g.nodes) {
    if (defined.has(n.id)) return E.left({ _tag: 'Invariant', pass: 'verify', message: `node id %${n.id} is used twice` })
    for (const i of n.inputs) {
      if (!all.has(i)) return E.left({ _tag: 'UnknownNode', node: refOf(n), missing: i })
      if (!defined.has(i)) return E.left({ _tag: 'NotTopological', node: refOf(n), input: i })
    }
    defined.add(n.id)
  }
  const names = (op: 'input' | 'param'): string[] => g.nodes.flatMap((n) => (n.op === op ? [n.params.name] : []))
  for (const kind of ['input', 'param'] as const) {
    const d = firstDuplicate(names(kind))
    if (d !== undefined) return E.left({ _tag: 'DuplicateName', kind, name: d })
  }
  const dOut = firstDuplicate(g.outputs.map((o) => o.name))
  if (dOut !== undefined) return E.left({ _tag: 'DuplicateName', kind: 'output', name: dOut })
  const missing = g.outputs.find((o) => !all.has(o.node))
  if (missing !== undefined) return E.left({ _tag: 'Invariant', pass: 'verify', message: `output '${missing.name}' refers to missing node %${missing.node}` })
  return inferTypes(g, inputShapes)
}
