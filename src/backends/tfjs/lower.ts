// Graph → Executable on a tfjs backend (the verification/lowering/evaluation core, prepareTfjs, is shared with
// the training step in src/train/step.ts). compile is synchronous: it verifies the graph with concrete input
// shapes, checks every parameter's presence and shape, runs every node's lowering rule (a node no rule can
// lower is a CompileError naming it), and uploads the parameters once, onto the named tfjs backend without
// making it active. run / vjp make their backend active first (tfjs has one global active backend, so
// executables on different backends can coexist), evaluate inside tf.tidy and read outputs back as
// Float32Array host tensors; nothing they create outlives the call.

import * as E from 'fp-ts/lib/Either.js'
import type { Executable, TensorMap, VjpResult } from '../backend.js'
import type { Types } from '../../ir/infer.js'
import type { CompileOptions } from '../backend.js'
import type { CompileError } from '../../ir/errors.js'
import { formatError, refOf } from '../../ir/errors.js'
import type { Graph, NodeId } from '../../ir/graph.js'
import { describeNode, graphInputs, graphParams } from '../../ir/graph.js'
import type { OpKind } from '../../ir/ops.js'
import type { ConcreteShape, HostTensor } from '../../ir/types.js'
import { isConcrete, showShape } from '../../ir/types.js'
import { verify } from '../../ir/verify.js'
import { activate, activateSync, tf } from './tf.js'
import type { LowerRule, LowerRules, Lowered, RunCtx } from './rules.js'
import { lowerRules } from './rules.js'

/** The default table with per-backend overrides applied. */
export const withOverrides = (over: Partial<LowerRules>): LowerRules => ({ ...lowerRules, ...over })

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean => a.length === b.length && a.every((d, i) => d === b[i])

const toHost = async (t: tf.Tensor): Promise<HostTensor> => {
  const d = await t.data()
  return { shape: [...t.shape], data: d instanceof Float32Array ? d : Float32Array.from(d) }
}

/** A graph verified and lowered for concrete shapes, not yet bound to parameter tensors (compile and training share it). */
export interface PreparedTfjs {
  readonly graph: Graph
  readonly types: Types
  readonly shapes: ReadonlyMap<NodeId, ConcreteShape>
  /** Why vjp through some node is unsupported (empty when every node differentiates). */
  readonly noGrad: ReadonlyArray<string>
  /** A fresh environment: `base` (e.g. the parameter tensors) plus every graph input uploaded (throws on a missing or misshaped input). */
  readonly bindInputs: (inputs: TensorMap, base: ReadonlyMap<NodeId, tf.Tensor>) => Map<NodeId, tf.Tensor>
  /** Evaluates every node in order into `env`; returns the graph outputs (in g.outputs order). Call inside tf.tidy. */
  readonly evaluate: (env: Map<NodeId, tf.Tensor>, ctx: RunCtx) => tf.Tensor[]
}

/** Verifies `g` with concrete shapes, checks every parameter value's presence and shape, and runs every lowering rule. */
export const prepareTfjs = (label: string, rules: LowerRules) => (g: Graph, opts: CompileOptions): E.Either<CompileError, PreparedTfjs> => {
  const typesE = verify(g, opts.inputShapes)
  if (E.isLeft(typesE)) return typesE
  const types = typesE.right
  const shapes = new Map<NodeId, ConcreteShape>()
  for (const n of g.nodes) {
    const t = types.get(n.id)?.shape ?? []
    if (!isConcrete(t)) return E.left({ _tag: 'ShapeMismatch', node: refOf(n), what: 'shape is not fully known at compile time (give every input shape)', shapes: [['out', t]] })
    shapes.set(n.id, t)
  }
  const known = graphInputs(g).map((i) => i.params.name)
  for (const i of graphInputs(g)) if (opts.inputShapes[i.params.name] === undefined) return E.left({ _tag: 'MissingInput', name: i.params.name, known })
  for (const p of graphParams(g)) {
    const v = opts.params.get(p.params.name)
    if (v === undefined) return E.left({ _tag: 'BadParams', node: refOf(p), message: `no value given for parameter '${p.params.name}'` })
    if (!sameShape(v.shape, p.params.shape) || v.data.length !== p.params.shape.reduce((a, b) => a * b, 1))
      return E.left({ _tag: 'ShapeMismatch', node: refOf(p), what: `value of parameter '${p.params.name}' has the wrong shape`, shapes: [['expected', p.params.shape], ['given', v.shape]] })
  }
  const lowered = new Map<NodeId, Lowered>()
  for (const n of g.nodes) {
    if (n.op === 'input' || n.op === 'param') continue
    const rule = rules[n.op] as LowerRule<OpKind>
    const r = rule(n, { ins: n.inputs.map((i) => shapes.get(i) ?? []), out: shapes.get(n.id) ?? [] })
    if (E.isLeft(r)) return E.left({ _tag: 'Unsupported', node: refOf(n), backend: label, reason: r.left })
    lowered.set(n.id, r.right)
  }
  const noGrad = g.nodes.flatMap((n) => {
    const r = lowered.get(n.id)?.noGrad
    return r === undefined ? [] : [`${describeNode(n)}: ${r}`]
  })
  const bindInputs = (inputs: TensorMap, base: ReadonlyMap<NodeId, tf.Tensor>): Map<NodeId, tf.Tensor> => {
    const env = new Map<NodeId, tf.Tensor>(base)
    for (const i of graphInputs(g)) {
      const v = inputs.get(i.params.name)
      if (v === undefined) throw new Error(formatError({ _tag: 'MissingInput', name: i.params.name, known }))
      const want = shapes.get(i.id) ?? []
      if (!sameShape(v.shape, want) || v.data.length !== want.reduce((a, b) => a * b, 1))
        throw new Error(`input '${i.params.name}': expected shape ${showShape(want)}, got ${showShape(v.shape)}`)
      env.set(i.id, tf.tensor(v.data, [...want], 'float32'))
    }
    return env
  }
  const evaluate = (env: Map<NodeId, tf.Tensor>, ctx: RunCtx): tf.Tensor[] => {
    for (const n of g.nodes) {
      const l = lowered.get(n.id)
      if (l === undefined) continue
      const ins = n.inputs.map((i) => {
        const t = env.get(i)
        if (t === undefined) throw new Error(`internal: ${describeNode(n)} reads an unevaluated node %${i}`)
        return t
      })
      env.set(n.id, l.fn(ins, ctx))
    }
    return g.outputs.map((o) => {
      const t = env.get(o.node)
      if (t === undefined) throw new Error(`internal: output '${o.name}' was not evaluated`)
      return t
    })
  }
  return E.right({ graph: g, types, shapes, noGrad, bindInputs, evaluate })
}

/** Compiles `g` for `backendName` (a tfjs backend name, e.g. 'wasm') with the given rule table. */
export const compileTfjs = (label: string, backendName: string, rules: LowerRules) => (g: Graph, opts: CompileOptions): E.Either<CompileError, Executable> => {
  const prepared = prepareTfjs(label, rules)(g, opts)
  if (E.isLeft(prepared)) return prepared
  const { types, shapes, noGrad } = prepared.right
  const params = graphParams(g)
  const backend = tf.findBackend(backendName)
  if (backend === null || backend === undefined) return E.left({ _tag: 'Invariant', pass: 'compile', message: `tfjs backend '${backendName}' is not initialised (call init first)` })
  const uploaded = new Map<NodeId, tf.Tensor>()
  for (const p of params) {
    const v = opts.params.get(p.params.name)
    if (v !== undefined) uploaded.set(p.id, tf.keep(tf.engine().makeTensor(v.data.slice(), [...v.shape], 'float32', backend)))
  }
  const trainable = params.filter((p) => p.params.trainable)
  let seed = 0x5eed
  const ctx: RunCtx = { nextSeed: () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) }

  const bindInputs = (inputs: TensorMap): Map<NodeId, tf.Tensor> => prepared.right.bindInputs(inputs, uploaded)
  const evaluate = (env: Map<NodeId, tf.Tensor>): tf.Tensor[] => prepared.right.evaluate(env, ctx)
  const readAll = async (names: ReadonlyArray<string>, ts: ReadonlyArray<tf.Tensor>): Promise<Map<string, HostTensor>> => {
    try {
      const out = new Map<string, HostTensor>()
      for (const [i, name] of names.entries()) {
        const t = ts[i]
        if (t !== undefined) out.set(name, await toHost(t))
      }
      return out
    } finally {
      tf.dispose([...ts])
    }
  }

  const run = async (inputs: TensorMap): Promise<TensorMap> => {
    await activate(backendName)
    activateSync(backendName)
    const outs = tf.tidy(() => evaluate(bindInputs(inputs)).map((t) => tf.clone(t)))
    return readAll(g.outputs.map((o) => o.name), outs)
  }

  const vjp = async (inputs: TensorMap, cotangents: TensorMap): Promise<VjpResult> => {
    if (noGrad.length > 0) throw new Error(`vjp unsupported on ${label}: ${noGrad.join('; ')}`)
    for (const [name] of cotangents) if (!g.outputs.some((o) => o.name === name)) throw new Error(`cotangent for unknown output '${name}'`)
    await activate(backendName)
    activateSync(backendName)
    const inNodes = graphInputs(g)
    const all = tf.tidy(() => {
      const env = bindInputs(inputs)
      const xs = [...inNodes.map((i) => env.get(i.id)), ...trainable.map((p) => env.get(p.id))].filter((t): t is tf.Tensor => t !== undefined)
      const cots = g.outputs.map((o) => {
        const c = cotangents.get(o.name)
        const want = shapes.get(o.node) ?? []
        if (c !== undefined && !sameShape(c.shape, want)) throw new Error(`cotangent '${o.name}': expected shape ${showShape(want)}, got ${showShape(c.shape)}`)
        return c === undefined ? undefined : tf.tensor(c.data, [...want], 'float32')
      })
      let outs: tf.Tensor[] = []
      const f = (): tf.Scalar => {
        outs = evaluate(new Map(env)).map((t) => tf.keep(tf.clone(t)))
        let acc: tf.Tensor = tf.scalar(0)
        for (const [i, t] of outs.entries()) {
          const c = cots[i]
          if (c !== undefined) acc = tf.add(acc, tf.sum(tf.mul(t, c)))
        }
        return acc as tf.Scalar
      }
      const { value, grads } = tf.engine().gradients(f, xs, undefined, true)
      value.dispose()
      const gs = grads.map((gr, i) => (gr === null || gr === undefined ? tf.zerosLike(xs[i] as tf.Tensor) : gr))
      return [...outs, ...gs]
    })
    const outs = all.slice(0, g.outputs.length)
    const gs = all.slice(g.outputs.length)
    const names = [...inNodes.map((i) => i.params.name), ...trainable.map((p) => p.params.name)]
    const [o, gr] = await Promise.all([readAll(g.outputs.map((x) => x.name), outs), readAll(names, gs)])
    return { outputs: o, grads: gr }
  }

  return E.right({
    types,
    run,
    vjp,
    dispose: () => {
      for (const t of uploaded.values()) t.dispose()
      uploaded.clear()
    },
  })
}
