// PyTorch state_dict tensors → sparkts parameters of a graph. The layout of a parameter follows from the op
// that consumes it, not from its name: a conv2d weight is OIHW → HWIO, a conv2dTranspose weight is
// (in, out, kh, kw) → (kh, kw, out, in) (the same axis permutation [2,3,1,0]), a linear weight is
// (out, in) → (in, out). Every other parameter (biases, norm affine/statistics, layer scale, mask tokens
// (1,C,1,1), GRN (1,1,1,C) or (1,C)) keeps its row-major order and only takes the graph's shape, provided
// the element counts agree. The report lists matched, missing, unexpected and shape-mismatched keys.

import type { Graph } from '../ir/graph.js'
import { graphParams, users } from '../ir/graph.js'
import type { HostTensor } from '../ir/types.js'
import { showShape, sizeOf } from '../ir/types.js'

/** What became of each key. */
export interface ConversionReport {
  readonly matched: ReadonlyArray<string>
  /** Graph parameters with no tensor in the state dict. */
  readonly missing: ReadonlyArray<string>
  /** State-dict keys that no graph parameter asked for. */
  readonly unexpected: ReadonlyArray<string>
  /** `name: given → expected` for tensors whose shape cannot become the parameter's. */
  readonly mismatched: ReadonlyArray<string>
}

/** Converted parameters plus the report. */
export interface Conversion {
  readonly params: ReadonlyMap<string, HostTensor>
  readonly report: ConversionReport
}

type Layout = 'oihw' | 'oi' | 'flat'

/** The PyTorch layout of every parameter of `g`, decided by the op and input slot that read it. */
export const torchLayouts = (g: Graph): ReadonlyMap<string, Layout> => {
  const byId = new Map(g.nodes.map((n) => [n.id, n]))
  const use = users(g)
  const out = new Map<string, Layout>()
  for (const p of graphParams(g)) {
    const consumers = (use.get(p.id) ?? []).map((u) => byId.get(u)).filter((n) => n !== undefined)
    const slotOf = (n: (typeof consumers)[number]): number => n.inputs.indexOf(p.id)
    const layout: Layout = consumers.some((n) => (n.op === 'conv2d' || n.op === 'conv2dTranspose') && slotOf(n) === 1)
      ? 'oihw'
      : consumers.some((n) => n.op === 'linear' && slotOf(n) === 1)
        ? 'oi'
        : 'flat'
    out.set(p.params.name, layout)
  }
  return out
}

/** Permutes a row-major tensor's axes (out[i...] = in[perm-indexed...]). */
export const permute = (t: HostTensor, perm: ReadonlyArray<number>): HostTensor => {
  const shape = perm.map((a) => t.shape[a] ?? 1)
  const inStrides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1))
  const n = sizeOf(shape)
  const out = new Float32Array(n)
  const idx = new Array<number>(shape.length).fill(0)
  for (let o = 0; o < n; o++) {
    let src = 0
    for (let k = 0; k < shape.length; k++) src += (idx[k] ?? 0) * (inStrides[perm[k] ?? 0] ?? 0)
    out[o] = t.data[src] ?? 0
    for (let k = shape.length - 1; k >= 0; k--) {
      idx[k] = (idx[k] ?? 0) + 1
      if ((idx[k] ?? 0) < (shape[k] ?? 1)) break
      idx[k] = 0
    }
  }
  return { shape, data: out }
}

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean => a.length === b.length && a.every((d, i) => d === b[i])

/**
 * Converts a PyTorch state dict for graph `g`. `keyOf` maps a graph parameter name to its state-dict key
 * (e.g. prefixing `sparse_encoder.sp_cnn.`); keys it does not produce are reported as unexpected.
 */
export const fromTorch = (g: Graph, state: ReadonlyMap<string, HostTensor>, keyOf: (name: string) => string = (n) => n): Conversion => {
  const layouts = torchLayouts(g)
  const params = new Map<string, HostTensor>()
  const matched: string[] = []
  const missing: string[] = []
  const mismatched: string[] = []
  const used = new Set<string>()
  for (const p of graphParams(g)) {
    const key = keyOf(p.params.name)
    const t = state.get(key)
    if (t === undefined) {
      missing.push(key)
      continue
    }
    used.add(key)
    const want = p.params.shape
    const layout = layouts.get(p.params.name) ?? 'flat'
    const converted = layout === 'oihw' && t.shape.length === 4 ? permute(t, [2, 3, 1, 0]) : layout === 'oi' && t.shape.length === 2 ? permute(t, [1, 0]) : t
    if (layout === 'flat' ? sizeOf(t.shape) !== sizeOf(want) : !sameShape(converted.shape, want)) {
      mismatched.push(`${key}: ${showShape(t.shape)} → ${showShape(want)}`)
      continue
    }
    params.set(p.params.name, { shape: want, data: converted.data })
    matched.push(key)
  }
  const unexpected = [...state.keys()].filter((k) => !used.has(k))
  return { params, report: { matched, missing, unexpected, mismatched } }
}
