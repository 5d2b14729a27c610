// A true submanifold-sparse reference: evaluates a DENSE backbone graph for a SparK mask (B,h,w,1) by the
// mathematical definition, independent of the masked-dense tricks `sparsify` uses. A spatial value lives
// only on its active sites (the mask block-upsampled to its resolution); inactive sites hold 0 and are
// never read. Per op:
//   conv2d          at each active output site: bias + Σ over in-bounds taps whose input site is active
//   maxPool/avgPool at each active output site, with SparK's official semantics in sparse terms: an inactive
//                   in-bounds neighbour contributes the value 0, padding contributes nothing (max: −∞; avg:
//                   the divisor is as dense: the window, or the in-bounds count without countIncludePad)
//   batchNorm       statistics over the gathered active sites of all samples (training), or running stats
//   groupNorm, grn, globalAvgPool  per sample, over the gathered active sites
//   pointwise ops (activations, add, mul, concat, layerNorm, linear, dropPath)  evaluated at active sites
//                   (computed by the dense kernel, whose value at a site reads only that site, then restricted)
// Values not derived from the image (params, pooled vectors) are dense ("global"). Unsupported here:
// conv2dTranspose, reshape/transpose of spatial values, and the mask ops (the input must be dense).

import type { AnyNode, Graph, NodeId } from '../../ir/graph.js'
import { describeNode } from '../../ir/graph.js'
import type { Types } from '../../ir/infer.js'
import type { OpKind } from '../../ir/ops.js'
import type { ConcreteShape } from '../../ir/types.js'
import { isConcrete } from '../../ir/types.js'
import { dim, f64, get } from './tensor.js'
import type { F64Tensor } from './tensor.js'
import type { RefKernel } from './kernels.js'
import { refKernels } from './kernels.js'

/** Active sites of one resolution: a 0/1 grid (B,H,W) and the list of active (b, i, j). */
interface Sites {
  readonly grid: Uint8Array
  readonly list: ReadonlyArray<readonly [number, number, number]>
}

const sitesOf = (mask: F64Tensor, B: number, H: number, W: number): Sites => {
  const [h, w] = [dim(mask.shape, 1), dim(mask.shape, 2)]
  if (H % h !== 0 || W % w !== 0) throw new RangeError(`submanifold: resolution ${H}x${W} is not a multiple of the mask grid ${h}x${w}`)
  const grid = new Uint8Array(B * H * W)
  const list: Array<readonly [number, number, number]> = []
  for (let b = 0; b < B; b++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++)
        if (get(mask.data, (b * h + Math.floor(i / (H / h))) * w + Math.floor(j / (W / w))) !== 0) {
          grid[(b * H + i) * W + j] = 1
          list.push([b, i, j])
        }
  return { grid, list }
}

type Sparse = (n: AnyNode, ins: ReadonlyArray<F64Tensor>, out: ConcreteShape, at: (shape: ReadonlyArray<number>) => Sites) => F64Tensor

const arg = (ins: ReadonlyArray<F64Tensor>, i: number): F64Tensor => {
  const t = ins[i]
  if (t === undefined) throw new Error(`submanifold: missing input ${i}`)
  return t
}

/** Window ops at active output sites; `reduce(values of in-bounds taps (0 when inactive), window size)`. */
const windowed = (x: F64Tensor, out: ConcreteShape, sIn: Sites, sOut: Sites, k: readonly [number, number], s: readonly [number, number], top: number, left: number,
  tap: (acc: number[], v: number, i: number, j: number, c: number) => void, finish: (acc: number[], c: number) => number, C: number, accInit: () => number[]): F64Tensor => {
  const [H, W] = [dim(x.shape, 1), dim(x.shape, 2)]
  const [OH, OW, OC] = [dim(out, 1), dim(out, 2), dim(out, 3)]
  const y = f64(out)
  for (const [b, oh, ow] of sOut.list) {
    const acc = accInit()
    for (let i = 0; i < k[0]; i++)
      for (let j = 0; j < k[1]; j++) {
        const [ih, iw] = [oh * s[0] - top + i, ow * s[1] - left + j]
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue
        const active = sIn.grid[(b * H + ih) * W + iw] === 1
        for (let c = 0; c < C; c++) tap(acc, active ? get(x.data, ((b * H + ih) * W + iw) * C + c) : 0, i, j, c)
      }
    for (let c = 0; c < OC; c++) y.data[((b * OH + oh) * OW + ow) * OC + c] = finish(acc, c)
  }
  return y
}

const conv2d: Sparse = (n, ins, out, at) => {
  if (n.op !== 'conv2d') throw new Error('conv2d')
  const [x, w, bias] = [arg(ins, 0), arg(ins, 1), ins[2]]
  const { strides, padding: [[top], [left]], dilations: [dh, dw], groups } = n.params
  const [KH, KW, CING, COUT] = [dim(w.shape, 0), dim(w.shape, 1), dim(w.shape, 2), dim(w.shape, 3)]
  const coutG = COUT / groups
  // Dilation: tap (i, j) reads row oh·s − top + i·dh; expressed as a window of size d·(k−1)+1 with holes.
  const [eh, ew] = [dh * (KH - 1) + 1, dw * (KW - 1) + 1]
  return windowed(x, out, at(x.shape), at(out), [eh, ew], strides, top, left,
    (acc, v, i, j, c) => {
      if (i % dh !== 0 || j % dw !== 0 || v === 0) return
      const g = Math.floor(c / CING)
      const wb = (((i / dh) * KW + j / dw) * CING + (c - g * CING)) * COUT
      for (let co = g * coutG; co < (g + 1) * coutG; co++) acc[co] = (acc[co] ?? 0) + v * get(w.data, wb + co)
    },
    (acc, co) => (acc[co] ?? 0) + (bias === undefined ? 0 : get(bias.data, co)), dim(x.shape, 3), () => new Array<number>(COUT).fill(0))
}

const pool = (kind: 'max' | 'avg'): Sparse => (n, ins, out, at) => {
  if (n.op !== 'maxPool' && n.op !== 'avgPool') throw new Error('pool')
  const x = arg(ins, 0)
  const C = dim(x.shape, 3)
  const { window, strides, padding: [[top], [left]] } = n.params
  const cip = n.op === 'avgPool' && n.params.countIncludePad
  // acc[c] = running max or sum; acc[C] = number of in-bounds taps (counted once per tap, at channel 0).
  return windowed(x, out, at(x.shape), at(out), window, strides, top, left,
    (acc, v, _i, _j, c) => {
      acc[c] = kind === 'max' ? Math.max(acc[c] ?? -Infinity, v) : (acc[c] ?? 0) + v
      if (c === 0) acc[C] = (acc[C] ?? 0) + 1
    },
    (acc, c) => (kind === 'max' ? acc[c] ?? -Infinity : (acc[c] ?? 0) / (cip ? window[0] * window[1] : acc[C] ?? 1)),
    C, () => [...new Array<number>(C).fill(kind === 'max' ? -Infinity : 0), 0])
}

/** Mean and biased variance per channel over the given flat site offsets (x rows of C values). */
const stats = (x: F64Tensor, rows: ReadonlyArray<number>, C: number, chans: ReadonlyArray<number>): [number, number] => {
  const cnt = rows.length * chans.length
  if (cnt === 0) return [0, 0]
  let s = 0
  for (const r of rows) for (const c of chans) s += get(x.data, r * C + c)
  const mean = s / cnt
  let q = 0
  for (const r of rows) for (const c of chans) q += (get(x.data, r * C + c) - mean) ** 2
  return [mean, q / cnt]
}

const rowsOf = (s: Sites, H: number, W: number, b?: number): number[] =>
  s.list.filter(([bb]) => b === undefined || bb === b).map(([bb, i, j]) => (bb * H + i) * W + j)

const norm: Sparse = (n, ins, out, at) => {
  const x = arg(ins, 0)
  const [B, H, W, C] = [dim(x.shape, 0), dim(x.shape, 1), dim(x.shape, 2), dim(x.shape, 3)]
  const sites = at(x.shape)
  const y = f64(out)
  const apply = (rows: ReadonlyArray<number>, chans: ReadonlyArray<number>, mean: number, v: number, eps: number): void => {
    for (const r of rows)
      for (const c of chans) y.data[r * C + c] = ((get(x.data, r * C + c) - mean) / Math.sqrt(v + eps)) * get(arg(ins, 1).data, c) + get(arg(ins, 2).data, c)
  }
  if (n.op === 'batchNorm') {
    const rows = rowsOf(sites, H, W)
    for (let c = 0; c < C; c++) {
      const [m, v] = n.params.training ? stats(x, rows, C, [c]) : [get(arg(ins, 3).data, c), get(arg(ins, 4).data, c)]
      apply(rows, [c], m, v, n.params.eps)
    }
  } else if (n.op === 'groupNorm') {
    const cg = C / n.params.groups
    for (let b = 0; b < B; b++)
      for (let g = 0; g < n.params.groups; g++) {
        const rows = rowsOf(sites, H, W, b)
        const chans = Array.from({ length: cg }, (_, k) => g * cg + k)
        const [m, v] = stats(x, rows, C, chans)
        apply(rows, chans, m, v, n.params.eps)
      }
  } else if (n.op === 'grn') {
    for (let b = 0; b < B; b++) {
      const rows = rowsOf(sites, H, W, b)
      const gx = Array.from({ length: C }, (_, c) => Math.sqrt(rows.reduce((s, r) => s + get(x.data, r * C + c) ** 2, 0)))
      const meanG = gx.reduce((s, v) => s + v, 0) / C
      for (const r of rows)
        for (let c = 0; c < C; c++) {
          const v = get(x.data, r * C + c)
          y.data[r * C + c] = get(arg(ins, 1).data, c) * (v * ((gx[c] ?? 0) / (meanG + n.params.eps))) + get(arg(ins, 2).data, c) + v
        }
    }
  } else if (n.op === 'globalAvgPool') {
    for (let b = 0; b < B; b++) {
      const rows = rowsOf(sites, H, W, b)
      for (let c = 0; c < C; c++) y.data[b * C + c] = rows.length === 0 ? 0 : rows.reduce((s, r) => s + get(x.data, r * C + c), 0) / rows.length
    }
  } else throw new Error(`submanifold: ${describeNode(n)} is not a statistic op`)
  return y
}

/** Pointwise ops: the dense kernel (a site's output reads only that site), restricted to active sites. */
const pointwise: Sparse = (n, ins, out, at) => restrict((refKernels[n.op] as RefKernel<OpKind>)(n, ins, out), at)

/** Zeros a rank-4 value at its inactive sites. */
const restrict = (v: F64Tensor, at: (shape: ReadonlyArray<number>) => Sites): F64Tensor => {
  if (v.shape.length !== 4) return v
  const y = f64(v.shape, v.data)
  const s = at(v.shape)
  const C = dim(v.shape, 3)
  for (let p = 0; p < s.grid.length; p++) if (s.grid[p] !== 1) y.data.fill(0, p * C, (p + 1) * C)
  return y
}

const refuse = (why: string): Sparse => (n) => {
  throw new RangeError(`submanifold: ${describeNode(n)}: ${why}`)
}

/** Sparse evaluation of every op kind on spatial values. */
const sparseKernels: { readonly [K in OpKind]: Sparse } = {
  input: refuse('bound by the interpreter'),
  param: refuse('bound by the interpreter'),
  conv2d,
  conv2dTranspose: refuse('no submanifold transposed convolution'),
  batchNorm: norm,
  layerNorm: pointwise,
  groupNorm: norm,
  grn: norm,
  linear: pointwise,
  relu: pointwise,
  relu6: pointwise,
  gelu: pointwise,
  silu: pointwise,
  sigmoid: pointwise,
  add: pointwise,
  mul: pointwise,
  maxPool: pool('max'),
  avgPool: pool('avg'),
  globalAvgPool: norm,
  concat: pointwise,
  reshape: refuse('cannot reshape a sparse spatial value'),
  transpose: refuse('cannot transpose a sparse spatial value'),
  dropPath: pointwise,
  maskLike: refuse('expects a dense graph (desparsify it first)'),
  maskedBatchNorm: refuse('expects a dense graph (desparsify it first)'),
  maskedGroupNorm: refuse('expects a dense graph (desparsify it first)'),
  maskedGlobalAvgPool: refuse('expects a dense graph (desparsify it first)'),
  maskFill: refuse('expects a dense graph (desparsify it first)'),
  maskedPatchLoss: refuse('expects a dense graph (desparsify it first)'),
}

/** Evaluates every node of a dense graph sparsely for `mask` (B,h,w,1); returns the value of each node. */
export const evaluateSubmanifoldAll = (
  g: Graph,
  types: Types,
  inputs: ReadonlyMap<string, F64Tensor>,
  params: ReadonlyMap<string, F64Tensor>,
  mask: F64Tensor,
): Map<NodeId, F64Tensor> => {
  const env = new Map<NodeId, F64Tensor>()
  const spatial = new Set<NodeId>()
  const cache = new Map<string, Sites>()
  const at = (shape: ReadonlyArray<number>): Sites => {
    const key = shape.slice(0, 3).join('x')
    const hit = cache.get(key) ?? sitesOf(mask, dim(shape, 0), dim(shape, 1), dim(shape, 2))
    cache.set(key, hit)
    return hit
  }
  for (const n of g.nodes) {
    const t = types.get(n.id)?.shape
    if (t === undefined || !isConcrete(t)) throw new RangeError(`submanifold: ${describeNode(n)} has no concrete type`)
    const ins = n.inputs.map((i) => env.get(i) ?? (() => { throw new RangeError(`submanifold: ${describeNode(n)} reads %${i} before it is defined`) })())
    let v: F64Tensor
    if (n.op === 'param') v = params.get(n.params.name) ?? refuse(`no value for parameter '${n.params.name}'`)(n, [], t, at)
    else if (n.op === 'input') {
      const x = inputs.get(n.params.name) ?? refuse(`no value for input '${n.params.name}'`)(n, [], t, at)
      if (t.length === 4) spatial.add(n.id)
      v = restrict(x, at)
    } else if (!n.inputs.some((i) => spatial.has(i))) v = (refKernels[n.op] as RefKernel<OpKind>)(n, ins, t)
    else {
      v = sparseKernels[n.op](n, ins, t, at)
      if (n.op !== 'globalAvgPool' && t.length === 4) spatial.add(n.id)
    }
    env.set(n.id, v)
  }
  return env
}

/** Sparse evaluation of a dense graph's named outputs for `mask` (B,h,w,1), 1 = active. */
export const evaluateSubmanifold = (g: Graph, types: Types, inputs: ReadonlyMap<string, F64Tensor>, params: ReadonlyMap<string, F64Tensor>, mask: F64Tensor): Map<string, F64Tensor> => {
  const env = evaluateSubmanifoldAll(g, types, inputs, params, mask)
  return new Map(g.outputs.map((o) => [o.name, env.get(o.node) ?? f64([0])] as const))
}
