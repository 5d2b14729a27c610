// Algebraic identities of the reference kernels on random small shapes (fast-check; FC_SEED replays a
// run, and fast-check prints the seed of a failure). Each property compares the kernel with a different
// computation of the same quantity (an adjoint, a per-group split, a naive single-plane correlation
// written here, a closed form), so the oracle is not checked against itself. Tolerances are per property.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { refKernels } from '../../src/backends/reference/kernels.js'
import { referenceBackend } from '../../src/backends/reference/index.js'
import { evaluate } from '../../src/backends/reference/interpret.js'
import type { F64Tensor } from '../../src/backends/reference/tensor.js'
import { f64, fromHost } from '../../src/backends/reference/tensor.js'
import { formatError } from '../../src/ir/errors.js'
import type { Node } from '../../src/ir/graph.js'
import { nodeId } from '../../src/ir/graph.js'
import { shapeRules } from '../../src/ir/infer.js'
import type { OpKind, OpParams } from '../../src/ir/ops.js'
import { opKinds } from '../../src/ir/ops.js'
import { f32, isConcrete } from '../../src/ir/types.js'
import { verify } from '../../src/ir/verify.js'
import { makeRng } from '../../src/util/rng.js'
import { opCases, randomGraphCase } from '../arbitraries.js'

const envSeed = process.env['FC_SEED']
const opts = (numRuns: number) => ({ numRuns, ...(envSeed === undefined ? {} : { seed: Number(envSeed) }) })

const runOp = <K extends OpKind>(op: K, params: OpParams[K], ins: ReadonlyArray<F64Tensor>): F64Tensor => {
  const n: Node<K> = { id: nodeId(ins.length), op, inputs: ins.map((_, i) => nodeId(i)), params }
  const t = shapeRules[op](n, ins.map((x) => f32(x.shape)))
  if (E.isLeft(t)) throw new Error(formatError(t.left))
  if (!isConcrete(t.right.shape)) throw new Error('shape not concrete')
  return refKernels[op](n, ins, t.right.shape)
}

const randn = (shape: ReadonlyArray<number>, seed: number): F64Tensor => {
  const r = makeRng(seed)
  return f64(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()))
}
const dot = (a: F64Tensor, b: F64Tensor): number => a.data.reduce((s, v, i) => s + v * (b.data[i] ?? NaN), 0)
const maxDiff = (a: F64Tensor, b: F64Tensor): number =>
  a.data.length !== b.data.length || a.shape.join() !== b.shape.join() ? Infinity : a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - (b.data[i] ?? NaN))), 0)
/** Channels [from, to) of a channels-last tensor. */
const sliceLast = (t: F64Tensor, from: number, to: number): F64Tensor => {
  const C = t.shape[t.shape.length - 1] ?? 1
  const data = Array.from(t.data).filter((_, e) => e % C >= from && e % C < to)
  return f64([...t.shape.slice(0, -1), to - from], data)
}
const nat = (lo: number, hi: number) => fc.integer({ min: lo, max: hi })
const seedArb = fc.integer({ min: 1, max: 2 ** 30 })
const conv = (o: Partial<OpParams['conv2d']> = {}): OpParams['conv2d'] => ({ strides: [1, 1], padding: [[0, 0], [0, 0]], dilations: [1, 1], groups: 1, ...o })

/** Naive single-plane cross-correlation (H×W plane, k×k kernel, symmetric padding p, stride s). */
const corr2d = (x: (h: number, w: number) => number, H: number, W: number, k: (i: number, j: number) => number, K: number, s: number, p: number): number[][] => {
  const OH = Math.floor((H + 2 * p - K) / s) + 1
  const OW = Math.floor((W + 2 * p - K) / s) + 1
  return Array.from({ length: OH }, (_, oh) =>
    Array.from({ length: OW }, (_, ow) => {
      let acc = 0
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) {
        const [h, w] = [oh * s - p + i, ow * s - p + j]
        if (h >= 0 && h < H && w >= 0 && w < W) acc += x(h, w) * k(i, j)
      }
      return acc
    }))
}

describe('reference convolution identities', () => {
  it('conv2dTranspose is the adjoint of conv2d: ⟨conv(x,w), y⟩ = ⟨x, convT(y,w)⟩ (same weight array)', () => {
    // ≤ ~10⁴ products of O(1) normals summed in float64: rounding ≲ 1e-11, a wrong index changes it by O(1).
    fc.assert(fc.property(nat(1, 2), nat(3, 7), nat(3, 7), nat(1, 3), nat(1, 3), nat(1, 3), nat(1, 2), nat(0, 1), seedArb, (n, h, w, ci, co, k, s, pp, seed) => {
      const p = Math.min(pp, Math.floor((k - 1) / 2) + 1)
      const x = randn([n, h, w, ci], seed)
      const wt = randn([k, k, ci, co], seed + 1)
      const y = runOp('conv2d', conv({ strides: [s, s], padding: [[p, p], [p, p]] }), [x, wt])
      const cot = randn(y.shape, seed + 2)
      // conv weight (kh,kw,cin,cout) is, read as a transposed-conv weight (kh,kw,cout_T,cin_T), the same array.
      const op = [(h + 2 * p - k) % s, (w + 2 * p - k) % s] as const
      const xt = runOp('conv2dTranspose', { strides: [s, s], padding: [p, p], outputPadding: op }, [cot, wt])
      expect(xt.shape).toEqual(x.shape)
      expect(Math.abs(dot(y, cot) - dot(x, xt))).toBeLessThanOrEqual(1e-9)
    }), opts(60))
  })

  it('grouped conv2d equals per-group convs concatenated along channels', () => {
    // Identical sums in identical order; 1e-12 only allows for any reordering.
    fc.assert(fc.property(nat(1, 3), nat(1, 2), nat(1, 2), nat(3, 6), nat(1, 3), nat(1, 2), seedArb, (g, cg, cog, hw, k, d, seed) => {
      const x = randn([1, hw + d * (k - 1), hw, g * cg], seed)
      const wt = randn([k, k, cg, g * cog], seed + 1)
      const b = randn([g * cog], seed + 2)
      const params = conv({ dilations: [d, 1], groups: g, padding: [[1, 0], [0, 1]], strides: [1, 2] })
      const whole = runOp('conv2d', params, [x, wt, b])
      const parts = Array.from({ length: g }, (_, i) =>
        runOp('conv2d', { ...params, groups: 1 }, [sliceLast(x, i * cg, (i + 1) * cg), sliceLast(wt, i * cog, (i + 1) * cog), sliceLast(b, i * cog, (i + 1) * cog)]))
      // Re-interleave: output channel i·cog + j comes from part i, channel j.
      const C = g * cog
      const joined = f64(whole.shape, Array.from(whole.data, (_, e) => parts[Math.floor((e % C) / cog)]?.data[Math.floor(e / C) * cog + ((e % C) % cog)] ?? NaN))
      return maxDiff(whole, joined) <= 1e-12
    }), opts(60))
  })

  it('depthwise conv2d with multiplier m: output channel c·m + j is input channel c correlated with w[:,:,0,c·m+j]', () => {
    // A naive single-plane correlation over ≤ 9 taps: float64 agreement to 1e-12.
    fc.assert(fc.property(nat(1, 3), nat(1, 3), nat(3, 6), nat(3, 6), fc.constantFrom(1, 3), nat(1, 2), seedArb, (c, m, h, w, k, s, seed) => {
      const p = (k - 1) / 2
      const x = randn([1, h, w, c], seed)
      const wt = randn([k, k, 1, c * m], seed + 1)
      const y = runOp('conv2d', conv({ groups: c, strides: [s, s], padding: [[p, p], [p, p]] }), [x, wt])
      const [OH, OW, CO] = [y.shape[1] ?? 0, y.shape[2] ?? 0, c * m]
      for (let ch = 0; ch < c; ch++)
        for (let j = 0; j < m; j++) {
          const co = ch * m + j
          const want = corr2d((a, b) => x.data[(a * w + b) * c + ch] ?? NaN, h, w, (a, b) => wt.data[(a * k + b) * CO + co] ?? NaN, k, s, p)
          for (let a = 0; a < OH; a++) for (let b = 0; b < OW; b++)
            expect(Math.abs((y.data[(a * OW + b) * CO + co] ?? NaN) - (want[a]?.[b] ?? NaN))).toBeLessThanOrEqual(1e-12)
        }
    }), opts(40))
  })

  it('conv2d with a centred delta kernel (same padding, any dilation) is the identity', () => {
    fc.assert(fc.property(nat(1, 2), nat(2, 6), nat(2, 6), nat(1, 3), fc.constantFrom(1, 3, 5), nat(1, 2), seedArb, (n, h, w, c, k, d, seed) => {
      const x = randn([n, h, w, c], seed)
      const wt = f64([k, k, c, c])
      const mid = (k - 1) / 2
      for (let ch = 0; ch < c; ch++) wt.data[((mid * k + mid) * c + ch) * c + ch] = 1
      const p = d * mid
      return maxDiff(runOp('conv2d', conv({ dilations: [d, d], padding: [[p, p], [p, p]] }), [x, wt]), x) === 0
    }), opts(40))
  })
})

describe('reference normalisation and pooling identities', () => {
  const stats = (t: F64Tensor, C: number, c: number): [number, number] => {
    const vs = Array.from(t.data).filter((_, e) => e % C === c)
    const mean = vs.reduce((a, b) => a + b, 0) / vs.length
    return [mean, vs.reduce((a, b) => a + (b - mean) ** 2, 0) / vs.length]
  }

  it('batchNorm training: every channel has mean beta and (biased) std |gamma|', () => {
    // eps 0 (a channel of ≥ 2 random normals is never constant), so the variance is 1 up to rounding in
    // x − mean, ≲ 1e-16·|x|/|x − mean|; 1e-9 holds unless two normals agree to ~1e-7 (probability ~1e-7).
    fc.assert(fc.property(nat(1, 3), nat(1, 4), nat(1, 4), nat(1, 4), seedArb, (n, h, w, c, seed) => {
      fc.pre(n * h * w >= 2)
      const [gamma, beta] = [randn([c], seed + 1), randn([c], seed + 2)]
      const y = runOp('batchNorm', { eps: 0, momentum: 0.1, training: true }, [randn([n, h, w, c], seed), gamma, beta, f64([c]), f64([c], new Array(c).fill(1))])
      for (let ch = 0; ch < c; ch++) {
        const [m, v] = stats(y, c, ch)
        expect(Math.abs(m - (beta.data[ch] ?? NaN))).toBeLessThanOrEqual(1e-9)
        expect(Math.abs(v - (gamma.data[ch] ?? NaN) ** 2)).toBeLessThanOrEqual(1e-9)
      }
    }), opts(40))
  })

  it('layerNorm and groupNorm(groups = 1) outputs have mean 0 and variance ≈ 1 over their statistics sets', () => {
    // Same eps 0 / 1e-9 tolerance argument as batchNorm (c ≥ 2 values per row).
    fc.assert(fc.property(nat(1, 4), nat(2, 5), seedArb, (hw, c, seed) => {
      const x = randn([1, hw, hw, c], seed)
      const [ones, zeros] = [f64([c], new Array(c).fill(1)), f64([c])]
      const ln = runOp('layerNorm', { eps: 0 }, [x, ones, zeros])
      for (let r = 0; r < hw * hw; r++) {
        const [m, v] = stats(f64([c], ln.data.slice(r * c, (r + 1) * c)), 1, 0)
        expect(Math.abs(m)).toBeLessThanOrEqual(1e-9)
        expect(Math.abs(v - 1)).toBeLessThanOrEqual(1e-9)
      }
      const [m, v] = stats(runOp('groupNorm', { groups: 1, eps: 0 }, [x, ones, zeros]), 1, 0)
      return Math.abs(m) <= 1e-9 && Math.abs(v - 1) <= 1e-9
    }), opts(40))
  })

  it('grn with zero gamma and beta is exactly the identity', () => {
    fc.assert(fc.property(nat(1, 2), nat(1, 4), nat(1, 4), seedArb, (n, hw, c, seed) => {
      const x = randn([n, hw, hw, c], seed)
      return maxDiff(runOp('grn', { eps: 1e-6 }, [x, f64([c]), f64([c])]), x) === 0
    }), opts(30))
  })

  it('avgPool of ones: 1 everywhere without countIncludePad, (window ∩ input)/k² with it', () => {
    fc.assert(fc.property(nat(1, 5), nat(1, 5), nat(1, 3), nat(1, 3), nat(0, 1), (h, w, k, s, pp) => {
      const p = Math.min(pp, Math.floor(k / 2))
      fc.pre(h + 2 * p >= k && w + 2 * p >= k)
      const base = { window: [k, k] as const, strides: [s, s] as const, padding: [[p, p], [p, p]] as const }
      const ones = f64([1, h, w, 2], new Array(h * w * 2).fill(1))
      const excl = runOp('avgPool', { ...base, countIncludePad: false }, [ones])
      const incl = runOp('avgPool', { ...base, countIncludePad: true }, [ones])
      const OW = excl.shape[2] ?? 0
      const inside = (o: number, n: number): number => Math.min(o * s - p + k, n) - Math.max(o * s - p, 0)
      return excl.data.every((v) => v === 1) &&
        incl.data.every((v, e) => Math.abs(v - (inside(Math.floor(e / 2 / OW), h) * inside(Math.floor(e / 2) % OW, w)) / (k * k)) <= 1e-15)
    }), opts(60))
  })

  it('add of (B,H,W,C) + (C) broadcasts the vector over every position', () => {
    fc.assert(fc.property(nat(1, 2), nat(1, 3), nat(1, 3), nat(1, 4), seedArb, (b, h, w, c, seed) => {
      const [x, v] = [randn([b, h, w, c], seed), randn([c], seed + 1)]
      const y = runOp('add', {}, [x, v])
      return y.shape.join() === x.shape.join() && y.data.every((u, e) => u === (x.data[e] ?? NaN) + (v.data[e % c] ?? NaN))
    }), opts(40))
  })

  it('transpose by a permutation then by its inverse, and concat then slice, give the input back', () => {
    fc.assert(fc.property(fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4, maxLength: 4 }), nat(1, 3), seedArb, (perm, c2, seed) => {
      const x = randn([2, 3, 4, 2], seed)
      const inv = perm.map((_, i) => perm.indexOf(i))
      const back = runOp('transpose', { perm: inv }, [runOp('transpose', { perm }, [x])])
      const y = randn([2, 3, 4, c2], seed + 1)
      const cat = runOp('concat', { axis: -1 }, [x, y])
      return maxDiff(back, x) === 0 && maxDiff(sliceLast(cat, 0, 2), x) === 0 && maxDiff(sliceLast(cat, 2, 2 + c2), y) === 0
    }), opts(30))
  })
})

describe('reference backend on generated graphs', () => {
  it('covers every op kind: each opCases graph compiles, runs to finite outputs equal to float32(evaluate)', async () => {
    for (const op of opKinds) {
      const [c] = fc.sample(opCases[op], { numRuns: 1, ...(envSeed === undefined ? {} : { seed: Number(envSeed) }) })
      if (c === undefined) throw new Error(`no case for ${op}`)
      const exe = referenceBackend.compile(c.graph, { inputShapes: c.inputShapes, params: c.params })
      if (E.isLeft(exe)) throw new Error(`${c.label}: ${formatError(exe.left)}`)
      const out = (await exe.right.run(c.inputs)).get('out')
      const types = verify(c.graph, c.inputShapes)
      if (E.isLeft(types) || out === undefined) throw new Error(`${c.label}: no output`)
      const ref = evaluate(c.graph, types.right, new Map([...c.inputs].map(([k, v]) => [k, fromHost(v)])), new Map([...c.params].map(([k, v]) => [k, fromHost(v)])))
      expect(out.data.every(Number.isFinite), c.label).toBe(true)
      expect(Array.from(out.data), c.label).toEqual(Array.from(Float32Array.from(ref.get('out')?.data ?? [])))
    }
  })

  it('random small CNNs compile and run to finite outputs of the inferred shape', async () => {
    await fc.assert(fc.asyncProperty(randomGraphCase, async (c) => {
      const exe = referenceBackend.compile(c.graph, { inputShapes: c.inputShapes, params: c.params })
      if (E.isLeft(exe)) throw new Error(`${c.label}: ${formatError(exe.left)}`)
      const out = (await exe.right.run(c.inputs)).get('out')
      const t = [...exe.right.types.values()].at(-1)
      return out !== undefined && out.data.length > 0 && out.data.every(Number.isFinite) && out.shape.join() === t?.shape.join()
    }), opts(8))
  })
})
