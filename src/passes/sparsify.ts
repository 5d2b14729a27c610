// `sparsify`: SparK's SparseEncoder as a graph rewrite. It adds the graph input `mask` (B,h,w,1) (1 =
// visible, at the coarsest grid) and rewrites a dense backbone so that every activation is exactly 0 at
// masked positions (spec §2), which makes dense ops compute submanifold sparse conv:
//   image input          → x · maskLike(mask, x)
//   conv2d               → conv, then · mask at the output resolution
//   maxPool              → pool, then · mask (official semantics: masked neighbours are 0, so a 0 can win the max)
//   avgPool              → pool, then · mask (official semantics: the divisor still counts masked neighbours)
//   batchNorm            → maskedBatchNorm (statistics over active positions of all samples; 0 at masked)
//   groupNorm            → maskedGroupNorm (per sample and group over active positions)
//   globalAvgPool        → maskedGlobalAvgPool (sparse GAP: mean over active positions; for SE blocks)
//   layerNorm, grn, linear (per position, spatial) → op, then · mask (LN and per-position linear ≡ gather → op →
//                          scatter; GRN's Σx² over H,W is the active sum since its input is 0 at masked positions)
//   relu, relu6, gelu, silu, dropPath (f(0) = 0), mul, add, concat → unchanged
//   sigmoid of a spatial value → unchanged but leaky (σ(0) = ½): it must be re-masked (e.g. gate a masked value)
// Values are tracked as masked / leaky / global (see mask-rewrite.ts); a leaky value reaching an add, concat,
// conv, pool, GRN or output is a compile error naming the leaking node and its consumer. Unsupported in an
// encoder: conv2dTranspose, reshape/transpose of a spatial value, graphs that already contain mask ops.

import * as E from 'fp-ts/lib/Either.js'
import type { AnyNode, Graph, Node } from '../ir/graph.js'
import type { CompileError } from '../ir/errors.js'
import { badParams, refOf } from '../ir/errors.js'
import type { OpKind, OpParams } from '../ir/ops.js'
import { verify } from '../ir/verify.js'
import type { Shape } from '../ir/types.js'
import type { MaskState, RewriteCtx, RewriteResult, RewriteRule, Rewritten } from './mask-rewrite.js'
import { global, leaky, masked, rewriteGraph } from './mask-rewrite.js'
import type { Pass } from './pass.js'

const r = (value: Rewritten['value'], state: MaskState): E.Either<CompileError, Rewritten> => E.right({ value, state })
const kinds = (cx: RewriteCtx): ReadonlyArray<MaskState['kind']> => cx.states.map((s) => s.kind)
const firstLeak = (cx: RewriteCtx): MaskState | undefined => cx.states.find((s) => s.kind === 'leaky')
/** A (1,H,W,C) parameter (e.g. a positional embedding) is spatial and non-zero everywhere; conv weights are only read as weights. */
const isSpatialParam = (s: ReadonlyArray<number>): boolean => s.length === 4 && s[0] === 1 && ((s[1] ?? 1) > 1 || (s[2] ?? 1) > 1)
const unsupported = (n: AnyNode, why: string): E.Either<CompileError, never> => E.left(badParams(refOf(n), `sparsify: ${why}`))

/** Op, then · mask: the output is masked; the op spreads values across positions, so its x must not leak. */
const thenRemask = (cx: RewriteCtx): E.Either<CompileError, Rewritten> => E.flatMap(() => r(cx.remask(cx.keep()), masked))(cx.noLeak([0]))

/** Per-position ops: unchanged on global values, op then · mask on spatial ones. */
const perPosition = (_n: AnyNode, cx: RewriteCtx) => (cx.states[0]?.kind === 'global' ? r(cx.keep(), global) : r(cx.remask(cx.keep()), masked))

/** f(0) = 0: unchanged, same state. */
const passThrough = (_n: AnyNode, cx: RewriteCtx) => r(cx.keep(), cx.states[0] ?? global)

/** Replaces a statistic op by its masked twin ([x, m, ...rest]) on spatial values. */
const maskedTwin = <K extends 'maskedBatchNorm' | 'maskedGroupNorm' | 'maskedGlobalAvgPool'>(cx: RewriteCtx, op: K, params: OpParams[K], out: MaskState): E.Either<CompileError, Rewritten> => {
  const [x, ...rest] = cx.ins
  if (cx.states[0]?.kind === 'global' || x === undefined) return r(cx.keep(), cx.states[0] ?? global)
  return r(cx.replace(op, [x, cx.maskAt(x, cx.shape), ...rest], params), out)
}

/** masked if all inputs are, global if all are, else leaky from this node (after `noLeak`). */
const combine = (n: AnyNode, cx: RewriteCtx): E.Either<CompileError, Rewritten> =>
  E.flatMap(() => r(cx.keep(), kinds(cx).every((s) => s === 'masked') ? masked : kinds(cx).every((s) => s === 'global') ? global : leaky(refOf(n))))(cx.noLeak())

const alreadySparse = (n: AnyNode) => unsupported(n, 'the graph already contains mask ops (sparsify it once)')

/** The rule list, one entry per op kind. */
export const sparsifyRules: { readonly [K in OpKind]: RewriteRule<K> } = {
  input: (n, cx) => {
    if (n.params.shape.length !== 4) return r(cx.keep(), global)
    const x = cx.keep()
    return r(cx.remask(x), masked)
  },
  param: (n, cx) => r(cx.keep(), isSpatialParam(n.params.shape) ? leaky(refOf(n)) : global),
  conv2d: (_n, cx) => thenRemask(cx),
  conv2dTranspose: (n) => unsupported(n, 'conv2dTranspose has no sparse (submanifold) form in an encoder'),
  batchNorm: (n, cx) => maskedTwin(cx, 'maskedBatchNorm', n.params, masked),
  groupNorm: (n, cx) => maskedTwin(cx, 'maskedGroupNorm', n.params, masked),
  globalAvgPool: (_n, cx) => maskedTwin(cx, 'maskedGlobalAvgPool', {}, global),
  layerNorm: perPosition,
  linear: perPosition,
  grn: (_n, cx) => (cx.states[0]?.kind === 'global' ? r(cx.keep(), global) : thenRemask(cx)),
  relu: passThrough,
  relu6: passThrough,
  gelu: passThrough,
  silu: passThrough,
  dropPath: passThrough,
  sigmoid: (n, cx) => {
    const s = cx.states[0] ?? global
    return r(cx.keep(), s.kind === 'masked' ? leaky(refOf(n)) : s)
  },
  mul: (_n, cx) => r(cx.keep(), kinds(cx).includes('masked') ? masked : firstLeak(cx) ?? global),
  add: combine,
  concat: combine,
  maxPool: (_n, cx) => (cx.states[0]?.kind === 'global' ? r(cx.keep(), global) : thenRemask(cx)),
  avgPool: (_n, cx) => (cx.states[0]?.kind === 'global' ? r(cx.keep(), global) : thenRemask(cx)),
  reshape: (n, cx) => (cx.states[0]?.kind === 'global' ? r(cx.keep(), global) : unsupported(n, 'cannot follow the mask through a reshape of a spatial value')),
  transpose: (n, cx) => (cx.states[0]?.kind === 'global' ? r(cx.keep(), global) : unsupported(n, 'cannot follow the mask through a transpose of a spatial value')),
  maskLike: alreadySparse,
  maskedBatchNorm: alreadySparse,
  maskedGroupNorm: alreadySparse,
  maskedGlobalAvgPool: alreadySparse,
  maskFill: alreadySparse,
  maskedPatchLoss: alreadySparse,
}

/** Options of `sparsify`. */
export interface SparsifyOptions {
  /** Name of the added mask input (default `mask`). */
  readonly maskInput?: string
  /** Total stride; when given with a known image size, the mask input's h and w are declared too. */
  readonly downsampleRatio?: number
}

const maskShape = (image: Shape | undefined, ds: number | undefined): Shape => {
  const [b, h, w] = [image?.[0] ?? null, image?.[1] ?? null, image?.[2] ?? null]
  const grid = (d: number | null): number | null => (d !== null && ds !== undefined && d % ds === 0 ? d / ds : null)
  return [b, grid(h), grid(w), 1]
}

/** Sparsifies a dense graph; also returns, per original node, the value replacing it and its mask state. */
export const sparsifyGraph = (g: Graph, o: SparsifyOptions = {}): E.Either<CompileError, RewriteResult> => {
  const name = o.maskInput ?? 'mask'
  const types = verify(g)
  if (E.isLeft(types)) return types
  if (g.nodes.some((n) => n.op === 'input' && n.params.name === name)) return E.left({ _tag: 'DuplicateName', kind: 'input', name })
  const image = g.nodes.find((n): n is Node<'input'> => n.op === 'input' && n.params.shape.length === 4)
  if (image === undefined) return E.left({ _tag: 'Invariant', pass: 'sparsify', message: 'the graph has no NHWC (rank-4) image input to mask' })
  const shape = maskShape(types.right.get(image.id)?.shape, o.downsampleRatio)
  return rewriteGraph(g, types.right, (n, cx) => (sparsifyRules[n.op] as RewriteRule<OpKind>)(n, cx), (id) => ({ id, op: 'input', inputs: [], params: { name, shape }, name }))
}

/** The sparsify pass (the mask input is named `maskInput`, default `mask`). */
export const sparsify = (maskInput = 'mask', downsampleRatio?: number): Pass => ({
  name: 'sparsify',
  run: (g) => E.map((res: RewriteResult) => res.graph)(sparsifyGraph(g, { maskInput, ...(downsampleRatio === undefined ? {} : { downsampleRatio }) })),
})
