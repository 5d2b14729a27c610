// Shape and dtype inference: one rule per op kind in a mapped-type table (a new op fails to compile
// until it has a rule). Rules accept unknown (null) dimensions and propagate them, so a model can be
// checked once symbolically and again with concrete input sizes before compilation.

import * as E from 'fp-ts/lib/Either.js'
import type { AnyNode, Graph, Node, NodeId } from './graph.js'
import type { OpKind, Pair, Padding } from './ops.js'
import { arity } from './ops.js'
import type { CompileError, NodeRef } from './errors.js'
import { badParams, refOf, shapeMismatch } from './errors.js'
import type { Dim, Shape, TensorType } from './types.js'
import { f32 } from './types.js'

/** A shape rule: the output type of node `n` given its input types. */
export type ShapeRule<K extends OpKind> = (n: Node<K>, ins: ReadonlyArray<TensorType>) => E.Either<CompileError, TensorType>

/** Types of every node, by id. */
export type Types = ReadonlyMap<NodeId, TensorType>

// ---- helpers

const dimEq = (a: Dim, b: Dim): boolean => a === null || b === null || a === b
const unify = (a: Dim, b: Dim): Dim => (a === null ? b : a)
const at = (s: Shape, i: number): Dim => s[i < 0 ? s.length + i : i] ?? null

const rank = (n: NodeRef, t: TensorType, want: number, role = 'input'): E.Either<CompileError, TensorType> =>
  t.shape.length === want ? E.right(t) : E.left(shapeMismatch(n, `${role} must have rank ${want}`, [[role, t.shape]]))

const vecOf = (n: NodeRef, role: string, t: TensorType | undefined, c: Dim): E.Either<CompileError, void> =>
  t === undefined || (t.shape.length === 1 && dimEq(t.shape[0] ?? null, c))
    ? E.right(undefined)
    : E.left(shapeMismatch(n, `${role} must be a vector of length ${c ?? '?'}`, [[role, t.shape]]))

const spatial = (i: Dim, k: number, s: number, pad: number, d: number): Dim =>
  i === null ? null : Math.floor((i + pad - d * (k - 1) - 1) / s) + 1

const windowOut = (n: NodeRef, x: Shape, k: Pair, s: Pair, p: Padding, d: Pair = [1, 1]): E.Either<CompileError, [Dim, Dim]> => {
  if ([...k, ...s, ...d].some((v) => !Number.isInteger(v) || v < 1) || p.flat().some((v) => !Number.isInteger(v) || v < 0))
    return E.left(badParams(n, `kernel ${k}, strides ${s}, dilations ${d} must be positive and padding ${JSON.stringify(p)} non-negative integers`))
  const h = spatial(at(x, 1), k[0], s[0], p[0][0] + p[0][1], d[0])
  const w = spatial(at(x, 2), k[1], s[1], p[1][0] + p[1][1], d[1])
  return (h !== null && h < 1) || (w !== null && w < 1)
    ? E.left(shapeMismatch(n, `window ${k[0]}x${k[1]} does not fit the padded input`, [['x', x]]))
    : E.right([h, w])
}

const broadcast = (n: NodeRef, a: Shape, b: Shape): E.Either<CompileError, Shape> => {
  const r = Math.max(a.length, b.length)
  const out: Dim[] = []
  for (let i = 0; i < r; i++) {
    const x = a.length - r + i < 0 ? 1 : at(a, a.length - r + i)
    const y = b.length - r + i < 0 ? 1 : at(b, b.length - r + i)
    if (x === 1) out.push(y)
    else if (y === 1) out.push(x)
    else if (dimEq(x, y)) out.push(unify(x, y))
    else return E.left(shapeMismatch(n, 'operands do not broadcast', [['a', a], ['b', b]]))
  }
  return E.right(out)
}

const same: ShapeRule<OpKind> = (_n, ins) => E.right(ins[0] ?? f32([]))

const channelNorm = (n: Node<'batchNorm' | 'layerNorm' | 'groupNorm' | 'grn' | 'maskedBatchNorm' | 'maskedGroupNorm'>, ins: ReadonlyArray<TensorType>, minRank: number) => {
  const [x, ...vs] = ins
  const r = refOf(n)
  if (x === undefined || x.shape.length < minRank) return E.left(shapeMismatch(r, `input must have rank >= ${minRank}`, [['x', x?.shape ?? []]]))
  const c = at(x.shape, -1)
  const roles = ['gamma', 'beta', 'runningMean', 'runningVar']
  for (const [i, v] of vs.entries()) {
    const ok = vecOf(r, roles[i] ?? 'param', v, c)
    if (E.isLeft(ok)) return ok
  }
  return E.right(x)
}

/** Checks that `m` is a (B,H,W,1) mask at the resolution of the rank-4 `x`. */
const maskAt = (n: NodeRef, x: TensorType | undefined, m: TensorType | undefined): E.Either<CompileError, TensorType> => {
  if (x === undefined || m === undefined) return E.left(badParams(n, 'missing inputs'))
  if (x.shape.length !== 4) return E.left(shapeMismatch(n, 'input must be NHWC (rank 4)', [['x', x.shape]]))
  const ok = m.shape.length === 4 && dimEq(at(m.shape, 3), 1) && [0, 1, 2].every((i) => dimEq(at(m.shape, i), at(x.shape, i)))
  return ok ? E.right(x) : E.left(shapeMismatch(n, 'mask must be (B,H,W,1) at the resolution of x', [['x', x.shape], ['m', m.shape]]))
}

/** A masked normalisation: x (rank 4), m at its resolution, then per-channel vectors. */
const maskedNorm = (n: Node<'maskedBatchNorm' | 'maskedGroupNorm'>, [x, m, ...vs]: ReadonlyArray<TensorType>) =>
  E.flatMap((t: TensorType) => channelNorm(n, [t, ...vs], 4))(maskAt(refOf(n), x, m))

// ---- the rule table

/** Shape rules of every op. */
export const shapeRules: { readonly [K in OpKind]: ShapeRule<K> } = {
  input: (n) => E.right(f32(n.params.shape)),
  param: (n) => E.right(f32(n.params.shape)),
  conv2d: (n, [x, w, b]) => {
    const r = refOf(n)
    const p = n.params
    if (x === undefined || w === undefined) return E.left(badParams(r, 'missing inputs'))
    if (x.shape.length !== 4 || w.shape.length !== 4)
      return E.left(shapeMismatch(r, 'conv2d needs an NHWC input and a (kh,kw,cin/groups,cout) weight', [['x', x.shape], ['w', w.shape]]))
    const [kh, kw, ci, co] = w.shape as [number, number, number, number]
    if (!Number.isInteger(p.groups) || p.groups < 1 || co % p.groups !== 0)
      return E.left(badParams(r, `groups ${p.groups} must divide output channels ${co}`))
    if (!dimEq(at(x.shape, 3), ci * p.groups))
      return E.left(shapeMismatch(r, `input channels ${at(x.shape, 3)} != weight in-channels ${ci} x groups ${p.groups}`, [['x', x.shape], ['w', w.shape]]))
    const bias = vecOf(r, 'bias', b, co)
    if (E.isLeft(bias)) return bias
    return E.map(([h, ww]: [Dim, Dim]) => f32([at(x.shape, 0), h, ww, co]))(windowOut(r, x.shape, [kh, kw], p.strides, p.padding, p.dilations))
  },
  conv2dTranspose: (n, [x, w, b]) => {
    const r = refOf(n)
    const p = n.params
    if (x === undefined || w === undefined) return E.left(badParams(r, 'missing inputs'))
    if (x.shape.length !== 4 || w.shape.length !== 4)
      return E.left(shapeMismatch(r, 'conv2dTranspose needs an NHWC input and a (kh,kw,cout,cin) weight', [['x', x.shape], ['w', w.shape]]))
    const [kh, kw, co, ci] = w.shape as [number, number, number, number]
    if (!dimEq(at(x.shape, 3), ci))
      return E.left(shapeMismatch(r, `input channels ${at(x.shape, 3)} != weight in-channels ${ci}`, [['x', x.shape], ['w', w.shape]]))
    const bias = vecOf(r, 'bias', b, co)
    if (E.isLeft(bias)) return bias
    const out = (i: Dim, k: number, s: number, pd: number, op: number): Dim => (i === null ? null : (i - 1) * s - 2 * pd + k + op)
    const h = out(at(x.shape, 1), kh, p.strides[0], p.padding[0], p.outputPadding[0])
    const ww = out(at(x.shape, 2), kw, p.strides[1], p.padding[1], p.outputPadding[1])
    if ((h !== null && h < 1) || (ww !== null && ww < 1)) return E.left(shapeMismatch(r, 'empty output', [['x', x.shape], ['w', w.shape]]))
    return E.right(f32([at(x.shape, 0), h, ww, co]))
  },
  batchNorm: (n, ins) => channelNorm(n, ins, 2),
  layerNorm: (n, ins) => channelNorm(n, ins, 1),
  groupNorm: (n, ins) => {
    const c = at(ins[0]?.shape ?? [], -1)
    if (c !== null && c % n.params.groups !== 0) return E.left(badParams(refOf(n), `groups ${n.params.groups} must divide channels ${c}`))
    return E.flatMap((x: TensorType) => rank(refOf(n), x, 4))(channelNorm(n, ins, 4))
  },
  grn: (n, ins) => E.flatMap((x: TensorType) => rank(refOf(n), x, 4))(channelNorm(n, ins, 4)),
  linear: (n, [x, w, b]) => {
    const r = refOf(n)
    if (x === undefined || w === undefined) return E.left(badParams(r, 'missing inputs'))
    if (w.shape.length !== 2 || x.shape.length < 1 || !dimEq(at(x.shape, -1), at(w.shape, 0)))
      return E.left(shapeMismatch(r, `input features ${at(x.shape, -1)} != weight rows ${at(w.shape, 0)}`, [['x', x.shape], ['w', w.shape]]))
    const bias = vecOf(r, 'bias', b, at(w.shape, 1))
    if (E.isLeft(bias)) return bias
    return E.right(f32([...x.shape.slice(0, -1), at(w.shape, 1)]))
  },
  relu: same,
  relu6: same,
  gelu: same,
  silu: same,
  sigmoid: same,
  add: (n, [a, b]) => E.map(f32)(broadcast(refOf(n), a?.shape ?? [], b?.shape ?? [])),
  mul: (n, [a, b]) => E.map(f32)(broadcast(refOf(n), a?.shape ?? [], b?.shape ?? [])),
  maxPool: (n, [x]) =>
    E.flatMap((t: TensorType) =>
      E.map(([h, w]: [Dim, Dim]) => f32([at(t.shape, 0), h, w, at(t.shape, 3)]))(windowOut(refOf(n), t.shape, n.params.window, n.params.strides, n.params.padding)),
    )(rank(refOf(n), x ?? f32([]), 4)),
  avgPool: (n, [x]) =>
    E.flatMap((t: TensorType) =>
      E.map(([h, w]: [Dim, Dim]) => f32([at(t.shape, 0), h, w, at(t.shape, 3)]))(windowOut(refOf(n), t.shape, n.params.window, n.params.strides, n.params.padding)),
    )(rank(refOf(n), x ?? f32([]), 4)),
  globalAvgPool: (n, [x]) => E.map((t: TensorType) => f32([at(t.shape, 0), at(t.shape, 3)]))(rank(refOf(n), x ?? f32([]), 4)),
  concat: (n, ins) => {
    const r = refOf(n)
    const first = ins[0]
    if (first === undefined) return E.left(badParams(r, 'concat needs at least one input'))
    const rk = first.shape.length
    const axis = n.params.axis < 0 ? rk + n.params.axis : n.params.axis
    if (axis < 0 || axis >= rk) return E.left(badParams(r, `axis ${n.params.axis} out of range for rank ${rk}`))
    const out: Dim[] = [...first.shape]
    for (const t of ins.slice(1)) {
      if (t.shape.length !== rk || t.shape.some((d, i) => i !== axis && !dimEq(d, out[i] ?? null)))
        return E.left(shapeMismatch(r, `inputs differ outside axis ${axis}`, ins.map((u, i) => [`x${i}`, u.shape] as const)))
      t.shape.forEach((d, i) => {
        out[i] = i === axis ? (out[i] === null || d === null ? null : (out[i] as number) + d) : unify(out[i] ?? null, d)
      })
    }
    return E.right(f32(out))
  },
  reshape: (n, [x]) => {
    const r = refOf(n)
    const t = x ?? f32([])
    const tgt = n.params.shape
    if (tgt.filter((d) => d === -1).length > 1 || tgt.some((d) => !Number.isInteger(d) || d < -1 || d === 0))
      return E.left(badParams(r, `bad target shape ${JSON.stringify(tgt)}`))
    const rest = t.shape.slice(1)
    const total = rest.every((d) => d !== null) ? (rest as number[]).reduce((a, b) => a * b, 1) : null
    const known = tgt.filter((d) => d !== -1).reduce((a, b) => a * b, 1)
    if (total === null) return E.right(f32([at(t.shape, 0), ...tgt.map((d) => (d === -1 ? null : d))]))
    const fill = total / known
    if (!Number.isInteger(fill) || (!tgt.includes(-1) && known !== total))
      return E.left(shapeMismatch(r, `cannot reshape ${total} elements per sample to ${JSON.stringify(tgt)}`, [['x', t.shape]]))
    return E.right(f32([at(t.shape, 0), ...tgt.map((d) => (d === -1 ? fill : d))]))
  },
  transpose: (n, [x]) => {
    const t = x ?? f32([])
    const p = n.params.perm
    const ok = p.length === t.shape.length && [...p].sort((a, b) => a - b).every((v, i) => v === i)
    return ok ? E.right(f32(p.map((i) => at(t.shape, i)))) : E.left(shapeMismatch(refOf(n), `perm ${JSON.stringify(p)} is not a permutation of the input axes`, [['x', t.shape]]))
  },
  dropPath: (n, ins) => (n.params.rate >= 0 && n.params.rate < 1 ? same(n, ins) : E.left(badParams(refOf(n), `rate ${n.params.rate} must be in [0, 1)`))),
  maskLike: (n, [mask, x]) => {
    const r = refOf(n)
    if (mask === undefined || x === undefined) return E.left(badParams(r, 'missing inputs'))
    const shapes = [['mask', mask.shape], ['x', x.shape]] as const
    if (mask.shape.length !== 4 || x.shape.length !== 4 || !dimEq(at(mask.shape, 3), 1) || !dimEq(at(mask.shape, 0), at(x.shape, 0)))
      return E.left(shapeMismatch(r, 'maskLike needs a (B,h,w,1) mask and an NHWC x of the same batch', shapes))
    for (const i of [1, 2]) {
      const [lo, hi] = [at(mask.shape, i), at(x.shape, i)]
      if (lo !== null && hi !== null && (hi < lo || hi % lo !== 0))
        return E.left(shapeMismatch(r, `x's ${i === 1 ? 'height' : 'width'} ${hi} is not an integer multiple of the mask's ${lo}`, shapes))
    }
    return E.right(f32([unify(at(x.shape, 0), at(mask.shape, 0)), at(x.shape, 1), at(x.shape, 2), 1]))
  },
  maskedBatchNorm: maskedNorm,
  maskedGroupNorm: (n, ins) => {
    const c = at(ins[0]?.shape ?? [], -1)
    if (c !== null && c % n.params.groups !== 0) return E.left(badParams(refOf(n), `groups ${n.params.groups} must divide channels ${c}`))
    return maskedNorm(n, ins)
  },
  maskedGlobalAvgPool: (n, [x, m]) => E.map((t: TensorType) => f32([at(t.shape, 0), at(t.shape, 3)]))(maskAt(refOf(n), x, m)),
  maskFill: (n, [x, m, fill]) =>
    E.flatMap((t: TensorType) => E.map(() => t)(vecOf(refOf(n), 'fill', fill ?? f32([]), at(t.shape, 3))))(maskAt(refOf(n), x, m)),
  maskedPatchLoss: (n, [rec, img, m]) => {
    const r = refOf(n)
    if (rec === undefined || img === undefined || m === undefined) return E.left(badParams(r, 'missing inputs'))
    const divides = (big: Dim, small: Dim): boolean => big === null || small === null || (small > 0 && big % small === 0)
    const ok = rec.shape.length === 4 && img.shape.length === 4 && rec.shape.every((d, i) => dimEq(d, at(img.shape, i))) &&
      m.shape.length === 4 && dimEq(at(m.shape, 0), at(img.shape, 0)) && dimEq(at(m.shape, 3), 1) &&
      divides(at(img.shape, 1), at(m.shape, 1)) && divides(at(img.shape, 2), at(m.shape, 2))
    return ok ? E.right(f32([])) : E.left(shapeMismatch(r, 'needs rec and image of one NHWC shape and a (B,h,w,1) mask whose grid divides H×W', [['rec', rec.shape], ['image', img.shape], ['mask', m.shape]]))
  },
}

/** Checks a node's input count against the arity table. */
export const checkArity = (n: AnyNode): E.Either<CompileError, AnyNode> => {
  const a = arity[n.op]
  const [lo, hi] = typeof a === 'number' ? [a, a] : a
  const got = n.inputs.length
  if (got >= lo && got <= hi) return E.right(n)
  const expected = lo === hi ? String(lo) : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`
  return E.left({ _tag: 'BadArity', node: refOf(n), expected, got })
}

/** The type of one node given its input types (dispatches on the rule table). */
export const inferNode = (n: AnyNode, ins: ReadonlyArray<TensorType>): E.Either<CompileError, TensorType> =>
  (shapeRules[n.op] as ShapeRule<OpKind>)(n, ins)

/**
 * Infers every node's type. `inputShapes` overrides declared input shapes (e.g. concrete batch and
 * spatial sizes); each override must agree with the declared rank and known dimensions.
 */
export const inferTypes = (g: Graph, inputShapes: Readonly<Record<string, Shape>> = {}): E.Either<CompileError, Types> => {
  const types = new Map<NodeId, TensorType>()
  for (const n of g.nodes) {
    const ar = checkArity(n)
    if (E.isLeft(ar)) return ar
    const ins: TensorType[] = []
    for (const i of n.inputs) {
      const t = types.get(i)
      if (t === undefined) return E.left({ _tag: 'UnknownNode', node: refOf(n), missing: i })
      ins.push(t)
    }
    let t: E.Either<CompileError, TensorType>
    if (n.op === 'input' && inputShapes[n.params.name] !== undefined) {
      const want = inputShapes[n.params.name] ?? []
      const decl = n.params.shape
      t = want.length === decl.length && want.every((d, i) => dimEq(d, decl[i] ?? null))
        ? E.right(f32(want.map((d, i) => unify(d, decl[i] ?? null))))
        : E.left(shapeMismatch(refOf(n), `given shape does not match input '${n.params.name}'`, [['declared', decl], ['given', want]]))
    } else t = inferNode(n, ins)
    if (E.isLeft(t)) return t
    types.set(n.id, t.right)
  }
  return E.right(types)
}
