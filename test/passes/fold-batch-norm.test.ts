// foldBatchNorm: on random conv → BN(inference) (→ ReLU) chains with random running statistics, the folded
// graph computes what the unfolded one does, on the float64 reference and on tfjs-wasm; convs that must
// not be folded (shared weight, value also a graph output, BN in training mode) are left alone.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Backend } from '../../src/backends/backend.js'
import { getBackend } from '../../src/backends/index.js'
import type { Value } from '../../src/ir/builder.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import { formatError } from '../../src/ir/errors.js'
import type { Graph } from '../../src/ir/graph.js'
import { graphParams } from '../../src/ir/graph.js'
import type { HostTensor } from '../../src/ir/types.js'
import { sizeOf } from '../../src/ir/types.js'
import * as L from '../../src/models/layers.js'
import { foldBatchNorm } from '../../src/passes/fold-batch-norm.js'
import { makeRng } from '../../src/util/rng.js'

const fcSeed = (): { readonly seed?: number } => {
  const s = process.env['FC_SEED']
  return s === undefined ? {} : { seed: Number(s) }
}

interface Block { readonly kernel: number; readonly stride: number; readonly out: number; readonly depthwise: boolean; readonly bias: boolean; readonly relu: boolean; readonly tap: boolean }
interface Spec { readonly batch: number; readonly size: number; readonly cin: number; readonly blocks: ReadonlyArray<Block>; readonly seed: number }

const blockArb: fc.Arbitrary<Block> = fc.record({
  kernel: fc.constantFrom(1, 3),
  stride: fc.integer({ min: 1, max: 2 }),
  out: fc.integer({ min: 1, max: 5 }),
  depthwise: fc.boolean(),
  bias: fc.boolean(),
  relu: fc.boolean(),
  // The conv's raw output is also a graph output: folding it would change that output, so it must stay.
  tap: fc.boolean(),
})
const specArb: fc.Arbitrary<Spec> = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  size: fc.integer({ min: 4, max: 9 }),
  cin: fc.integer({ min: 1, max: 4 }),
  blocks: fc.array(blockArb, { minLength: 1, maxLength: 3 }),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
})

const build = (s: Spec): Graph => {
  const b = new GraphBuilder({ training: false })
  let x: Value = b.input('input', [s.batch, s.size, s.size, s.cin])
  let c = s.cin
  const outs: Array<readonly [string, Value]> = []
  for (const [i, k] of s.blocks.entries()) {
    const out = k.depthwise ? c : k.out
    const conv = L.conv2d(`b${i}.conv`, { out, kernel: k.kernel, stride: k.stride, groups: k.depthwise ? c : 1, bias: k.bias })(x)
    if (k.tap) outs.push([`tap${i}`, conv])
    x = pipe(conv, L.batchNorm(`b${i}.bn`), k.relu ? L.relu : (v: Value) => v)
    c = out
  }
  outs.push(['out', x])
  const g = b.build(outs)
  if (E.isLeft(g)) throw new Error(formatError(g.left))
  return g.right
}

/** Random values; BN statistics drawn so that folding is not a no-op: mean N(0,1), var U(0.2, 2.2), γ, β N(0,1). */
const values = (g: Graph, seed: number): Map<string, HostTensor> => {
  const r = makeRng(seed)
  return new Map(
    graphParams(g).map((p) => {
      const n = sizeOf(p.params.shape)
      const data = Float32Array.from({ length: n }, () => (p.params.name.endsWith('running_var') ? 0.2 + 2 * r.uniform() : r.normal()))
      return [p.params.name, { shape: p.params.shape, data }] as const
    }),
  )
}

/** max |a − b| / max |b| over every output (max-norm relative error). */
const relErr = (a: ReadonlyMap<string, HostTensor>, b: ReadonlyMap<string, HostTensor>): number => {
  let d = 0
  let m = 0
  for (const [k, t] of b) {
    const u = a.get(k)
    if (u === undefined) return Infinity
    t.data.forEach((v, i) => {
      d = Math.max(d, Math.abs((u.data[i] ?? NaN) - v))
      m = Math.max(m, Math.abs(v))
    })
  }
  return m === 0 ? (d === 0 ? 0 : Infinity) : d / m
}

const runOn = async (be: Backend, g: Graph, params: ReadonlyMap<string, HostTensor>, input: HostTensor) => {
  const exe = be.compile(g, { inputShapes: { input: input.shape }, params })
  if (E.isLeft(exe)) throw new Error(formatError(exe.left))
  try {
    return await exe.right.run(new Map([['input', input]]))
  } finally {
    exe.right.dispose()
  }
}

const countBn = (g: Graph): number => g.nodes.filter((n) => n.op === 'batchNorm').length

const property = (be: Backend, tol: number) =>
  fc.asyncProperty(specArb, async (s) => {
    const g = build(s)
    const params = values(g, s.seed)
    const folded = foldBatchNorm.run({ graph: g, params })
    if (E.isLeft(folded)) throw new Error(formatError(folded.left))
    // Every BN whose conv is not tapped is folded away; tapped ones stay.
    expect(countBn(folded.right.graph)).toBe(s.blocks.filter((k) => k.tap).length)
    const r = makeRng(s.seed + 7)
    const input: HostTensor = { shape: [s.batch, s.size, s.size, s.cin], data: Float32Array.from({ length: s.batch * s.size * s.size * s.cin }, () => r.normal()) }
    const want = await runOn(be, g, params, input)
    const got = await runOn(be, folded.right.graph, folded.right.params, input)
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort())
    return relErr(got, want) <= tol
  })

describe('foldBatchNorm ≡ unfolded', () => {
  // float64 evaluation: the only difference is rounding the folded W·s and bias to float32 (≈ 6e-8 relative
  // each), amplified by at most a few chained layers; 1e-5 leaves margin and still catches any formula slip.
  it('on the reference backend (relative ≤ 1e-5)', async () => {
    const be = await getBackend('reference')
    if (E.isLeft(be)) throw new Error(be.left)
    await fc.assert(property(be.right, 1e-5), { numRuns: 40, ...fcSeed() })
  })

  // float32 kernels on both sides with different summation orders (≈ 1e-6 each): 1e-4 as in the conformance tests.
  it('on tfjs-wasm (relative ≤ 1e-4)', async () => {
    const be = await getBackend('tfjs-wasm')
    if (E.isLeft(be)) throw new Error(be.left)
    await fc.assert(property(be.right, 1e-4), { numRuns: 20, ...fcSeed() })
  })
})

describe('foldBatchNorm leaves what it must not fold', () => {
  const spec = (tap: boolean): Spec => ({ batch: 1, size: 5, cin: 2, seed: 3, blocks: [{ kernel: 3, stride: 1, out: 3, depthwise: false, bias: false, relu: true, tap }] })

  it('folds a bias-free conv into a conv with a new `<conv>.bias` and drops the BN parameters', () => {
    const g = build(spec(false))
    const r = foldBatchNorm.run({ graph: g, params: values(g, 1) })
    if (E.isLeft(r)) throw new Error(formatError(r.left))
    expect(graphParams(r.right.graph).map((p) => p.params.name)).toEqual(['b0.conv.weight', 'b0.conv.bias'])
    expect([...r.right.params.keys()].sort()).toEqual(['b0.conv.bias', 'b0.conv.weight'])
    expect(countBn(r.right.graph)).toBe(0)
  })

  it('keeps a BN in training mode, a shared conv weight and a conv that is also an output', () => {
    const b = new GraphBuilder({ training: true })
    const x = b.input('input', [1, 4, 4, 2])
    const trainBn = pipe(x, L.conv2d('t.conv', { out: 2, kernel: 1 }), L.batchNorm('t.bn'))
    const gTrain = b.build([['out', trainBn]])
    if (E.isLeft(gTrain)) throw new Error('build')
    expect(foldBatchNorm.run({ graph: gTrain.right, params: values(gTrain.right, 2) })).toEqual(E.right({ graph: gTrain.right, params: values(gTrain.right, 2) }))

    const b2 = new GraphBuilder()
    const y = b2.input('input', [1, 4, 4, 2])
    const w = b2.param('shared.weight', [1, 1, 2, 2], { kind: 'ones' })
    const p = { strides: [1, 1], padding: [[0, 0], [0, 0]], dilations: [1, 1], groups: 1 } as const
    const c1 = b2.node('conv2d', [y, w], p, 'c1')
    const c2 = b2.node('conv2d', [y, w], p, 'c2')
    const g2 = b2.build([['a', L.batchNorm('bn1')(c1)], ['b', L.batchNorm('bn2')(c2)]])
    if (E.isLeft(g2)) throw new Error('build')
    const r2 = foldBatchNorm.run({ graph: g2.right, params: values(g2.right, 4) })
    expect(E.isRight(r2) && countBn(r2.right.graph)).toBe(2)

    const g3 = build(spec(true))
    const r3 = foldBatchNorm.run({ graph: g3, params: values(g3, 5) })
    expect(E.isRight(r3) && countBn(r3.right.graph)).toBe(1)
  })

  it('reports a missing value as an error naming the batch-norm node', () => {
    const g = build(spec(false))
    const params = values(g, 1)
    params.delete('b0.bn.running_var')
    const r = foldBatchNorm.run({ graph: g, params })
    expect(E.isLeft(r) && formatError(r.left)).toMatch(/'b0\.bn' \(batchNorm\): cannot fold: no value for .*'b0\.bn\.running_var'/)
  })
})
