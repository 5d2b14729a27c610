// The kernel signature shared by the reference kernel families (kept apart from the table so that the
// family files and the table do not import each other).

import type { Node } from '../../ir/graph.js'
import type { OpKind } from '../../ir/ops.js'
import type { ConcreteShape } from '../../ir/types.js'
import type { F64Tensor } from './tensor.js'

/** A reference kernel: node, input values (in the op's documented order), output shape → output value. */
export type RefKernel<K extends OpKind> = (n: Node<K>, ins: ReadonlyArray<F64Tensor>, outType: ConcreteShape) => F64Tensor

/** The i-th input of a kernel; the interpreter guarantees arity, so absence is an internal error. */
export const input = (ins: ReadonlyArray<F64Tensor>, i: number, op: string): F64Tensor => {
  const t = ins[i]
  if (t === undefined) throw new Error(`reference ${op}: missing input ${i} (arity is checked by verify)`)
  return t
}
