// The float64 interpreter: walks the nodes in their (topological) order, binds inputs and params by
// name, runs one reference kernel per node with the concrete output shape from `types`, and returns the
// named outputs. It is a plain function of float64 values, so gradient tests can take central finite
// differences of it as the reference gradient. Misuse (a missing value, a wrong shape, a graph not
// verified for concrete shapes) throws a RangeError naming what is wrong; `compile` checks all of it first.

import type { AnyNode, Graph, NodeId } from '../../ir/graph.js'
import { describeNode } from '../../ir/graph.js'
import type { Types } from '../../ir/infer.js'
import type { OpKind } from '../../ir/ops.js'
import type { ConcreteShape } from '../../ir/types.js'
import { isConcrete, showShape } from '../../ir/types.js'
import type { F64Tensor } from './tensor.js'
import type { RefKernel } from './kernels.js'
import { refKernels } from './kernels.js'

export type { F64Tensor } from './tensor.js'

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean => a.length === b.length && a.every((d, i) => d === b[i])

/** Concrete output shape of a node, from the inferred types. */
const shapeOf = (n: AnyNode, types: Types): ConcreteShape => {
  const t = types.get(n.id)
  if (t === undefined || !isConcrete(t.shape))
    throw new RangeError(`reference: ${describeNode(n)} has no concrete type ${t === undefined ? '' : showShape(t.shape)} (verify with concrete input shapes first)`)
  return t.shape
}

/** Binds a named value, checking its shape. */
const bind = (n: AnyNode, kind: string, name: string, values: ReadonlyMap<string, F64Tensor>, want: ConcreteShape): F64Tensor => {
  const v = values.get(name)
  if (v === undefined) throw new RangeError(`reference: no value for ${kind} '${name}' (${describeNode(n)})`)
  if (!sameShape(v.shape, want)) throw new RangeError(`reference: ${kind} '${name}' has shape ${showShape(v.shape)}, expected ${showShape(want)}`)
  return v
}

/** Evaluates a graph in float64; returns every named output. `types` must be concrete (from `verify(g, shapes)`). */
export const evaluate = (
  g: Graph,
  types: Types,
  inputs: ReadonlyMap<string, F64Tensor>,
  params: ReadonlyMap<string, F64Tensor>,
): Map<string, F64Tensor> => {
  const env = new Map<NodeId, F64Tensor>()
  for (const n of g.nodes) {
    const shape = shapeOf(n, types)
    let v: F64Tensor
    if (n.op === 'input') v = bind(n, 'input', n.params.name, inputs, shape)
    else if (n.op === 'param') v = bind(n, 'param', n.params.name, params, shape)
    else {
      const ins = n.inputs.map((i) => {
        const t = env.get(i)
        if (t === undefined) throw new RangeError(`reference: ${describeNode(n)} reads %${i} before it is defined`)
        return t
      })
      v = (refKernels[n.op] as RefKernel<OpKind>)(n, ins, shape)
      if (!sameShape(v.shape, shape) || v.data.length !== shape.reduce((a, b) => a * b, 1))
        throw new Error(`reference: kernel of ${describeNode(n)} returned ${showShape(v.shape)}, expected ${showShape(shape)}`)
    }
    env.set(n.id, v)
  }
  const out = new Map<string, F64Tensor>()
  for (const o of g.outputs) {
    const v = env.get(o.node)
    if (v === undefined) throw new RangeError(`reference: output '${o.name}' refers to missing node %${o.node}`)
    out.set(o.name, v)
  }
  return out
}
