// The `reference` backend: the float64 interpreter behind the Backend contract, used as the oracle every
// other backend is checked against. `compile` verifies the graph for the given concrete input shapes,
// checks that every parameter has a value of the declared shape (errors name the param node), and refuses
// what the oracle cannot reproduce (random dropPath in training). `run` widens float32 inputs to float64,
// evaluates, and rounds the outputs back to float32. No `vjp`: gradients are checked against central
// finite differences of `evaluate` instead.

import * as E from 'fp-ts/lib/Either.js'
import type { Backend, CompileOptions, Executable, TensorMap } from '../backend.js'
import type { Graph } from '../../ir/graph.js'
import { graphInputs, graphParams } from '../../ir/graph.js'
import type { CompileError } from '../../ir/errors.js'
import { badParams, formatError, refOf, shapeMismatch } from '../../ir/errors.js'
import type { Types } from '../../ir/infer.js'
import { isConcrete, showShape } from '../../ir/types.js'
import { verify } from '../../ir/verify.js'
import { dropPathIsRandom } from './kernels-elementwise.js'
import { evaluate } from './interpret.js'
import type { F64Tensor } from './tensor.js'
import { fromHost, toHost } from './tensor.js'

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean => a.length === b.length && a.every((d, i) => d === b[i])

/** Checks what verify does not: concrete types, parameter values, deterministic ops. */
const checkCompilable = (g: Graph, types: Types, opts: CompileOptions): E.Either<CompileError, ReadonlyMap<string, F64Tensor>> => {
  for (const n of g.nodes) {
    const t = types.get(n.id)
    if (t !== undefined && !isConcrete(t.shape))
      return E.left(shapeMismatch(refOf(n), 'shape is not fully known; give concrete inputShapes for every graph input', [['type', t.shape]]))
    if (n.op === 'dropPath' && dropPathIsRandom(n.params))
      return E.left({ _tag: 'Unsupported', node: refOf(n), backend: 'reference', reason: `dropPath with rate ${n.params.rate} in training mode is random; build the graph with training: false or rate 0` })
  }
  const params = new Map<string, F64Tensor>()
  for (const p of graphParams(g)) {
    const { name, shape } = p.params
    const v = opts.params.get(name)
    if (v === undefined) return E.left(badParams(refOf(p), `no value given for parameter '${name}' (shape ${showShape(shape)})`))
    if (!sameShape(v.shape, shape) || v.data.length !== v.shape.reduce((a, b) => a * b, 1))
      return E.left(shapeMismatch(refOf(p), `value given for parameter '${name}' has the wrong shape`, [['declared', shape], ['given', v.shape]]))
    params.set(name, fromHost(v))
  }
  return E.right(params)
}

/** Compiles a graph into a float64-evaluating Executable. */
const compile = (g: Graph, opts: CompileOptions): E.Either<CompileError, Executable> => {
  const types = verify(g, opts.inputShapes)
  if (E.isLeft(types)) return types
  const params = checkCompilable(g, types.right, opts)
  if (E.isLeft(params)) return params
  const run = async (inputs: TensorMap): Promise<TensorMap> => {
    const ins = new Map<string, F64Tensor>()
    for (const n of graphInputs(g)) {
      const v = inputs.get(n.params.name)
      if (v === undefined) throw new RangeError(formatError({ _tag: 'MissingInput', name: n.params.name, known: [...inputs.keys()] }))
      ins.set(n.params.name, fromHost(v))
    }
    const outs = evaluate(g, types.right, ins, params.right)
    return new Map([...outs].map(([k, v]) => [k, toHost(v)] as const))
  }
  return E.right({ types: types.right, run, dispose: () => undefined })
}

/** The float64 reference interpreter as a backend (always available, no gradients). */
export const referenceBackend: Backend = {
  name: 'reference',
  init: async () => E.right(undefined),
  compile,
  describe: () => ({ backend: 'reference', precision: 'float64' }),
}
