// sparsify / desparsify on random small backbones (test/spark/helpers.ts), evaluated in float64:
//  a. an all-visible mask gives the dense features (BN in training mode too);
//  b. every masked-state activation is exactly 0 at masked positions, at every scale;
//  c. the masked-dense graph ≡ the submanifold reference (float64; and tfjs backends in sparsify-tfjs.test.ts);
//  e. changing pixels inside masked patches never changes the features;
//  f. desparsify(sparsify(g)) prints and evaluates as g.
// Tolerances: float64 evaluations of the same maths in a different summation order (Σm·x/Σm vs Σx/n, gather
// vs masked sums) differ by ~1e-15 relative; BN/GN divide by √(var + eps) ≥ √1e-5, so 1e-9 relative
// (to max(1, max|ref|)) leaves a wide margin while catching any semantic difference (≥ 1e-3 here).
// (e) is exact: masked pixels are multiplied by 0 before anything reads them (−0 and +0 compare equal).

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import type { Value } from '../../src/ir/builder.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import { formatError } from '../../src/ir/errors.js'
import * as L from '../../src/models/layers.js'
import { buildBackbone } from '../../src/models/backbone.js'
import { findModel } from '../../src/models/zoo.js'
import type { Graph, NodeId } from '../../src/ir/graph.js'
import { printGraph } from '../../src/ir/print.js'
import { verify } from '../../src/ir/verify.js'
import { evaluateSubmanifold } from '../../src/backends/reference/submanifold.js'
import { desparsifyGraph } from '../../src/passes/desparsify.js'
import { sparsify, sparsifyGraph } from '../../src/passes/sparsify.js'
import { expandMask } from '../../src/spark/mask.js'
import type { HostTensor } from '../../src/ir/types.js'
import { f64, netArb, relErr, right, run64, runs, seed, typesOf } from './helpers.js'

console.log(`spark sparsify: fast-check seed ${seed} (set FC_SEED to replay)`)

const ones = (m: HostTensor): HostTensor => ({ shape: m.shape, data: new Float32Array(m.data.length).fill(1) })
const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => Math.max(s, Math.abs(v)), 0)
const feats = ['features.0', 'features.1']

describe('sparsify properties (float64 reference)', () => {
  it('a. all-visible mask ⇒ sparse ≡ dense', () => {
    fc.assert(
      fc.property(netArb, (net) => {
        const sparse = right(sparsify().run(net.graph))
        const dense = run64(net.graph, net.shapes, { input: net.image }, net.params)
        const sp = run64(sparse, net.shapes, { input: net.image, mask: ones(net.mask) }, net.params)
        for (const f of feats) {
          const d = dense.get(f)?.data ?? new Float64Array()
          fc.pre(maxAbs(d) > 0) // a dead (all-zero) feature map would prove nothing
          expect(relErr(sp.get(f)?.data ?? [], d), `${net.label}: ${f}`).toBeLessThanOrEqual(1e-9)
        }
        return true
      }),
      runs(25),
    )
  })

  it('b. every masked activation is exactly 0 at masked positions, at every scale', () => {
    fc.assert(
      fc.property(netArb, (net) => {
        const res = right(sparsifyGraph(net.graph))
        const checked: Array<[NodeId, NodeId]> = [...res.states].filter(([, s]) => s.kind === 'masked').map(([id]) => [id, res.values.get(id) ?? id])
        const probe: Graph = { ...res.graph, outputs: checked.map(([id, v]) => ({ name: `n${id}`, node: v })) }
        const vals = run64(probe, net.shapes, { input: net.image, mask: net.mask }, net.params)
        const scales = new Set<string>()
        let nonZero = 0
        for (const [id] of checked) {
          const v = vals.get(`n${id}`)
          if (v === undefined) return false
          const [B, H, W, C] = v.shape as [number, number, number, number]
          const m = expandMask(net.mask, H, W)
          if (E.isLeft(m)) throw new Error(m.left.message)
          scales.add(`${H}x${W}`)
          for (let p = 0; p < B * H * W; p++)
            for (let c = 0; c < C; c++) {
              const x = v.data[p * C + c] ?? NaN
              if (m.right.data[p] === 0) expect(x, `${net.label}: node %${id} at site ${p} channel ${c}`).toBe(0 * x)
              else if (x !== 0) nonZero++
            }
        }
        expect(scales.size, `${net.label}: image and both feature scales checked`).toBe(3)
        expect(nonZero, `${net.label}: active positions carry values`).toBeGreaterThan(0)
        return true
      }),
      runs(25),
    )
  })

  it('c. masked-dense lowering ≡ submanifold sparse reference', () => {
    fc.assert(
      fc.property(netArb, (net) => {
        const sparse = right(sparsify().run(net.graph))
        const got = run64(sparse, net.shapes, { input: net.image, mask: net.mask }, net.params)
        const types = typesOf(net.graph, net.shapes)
        const want = evaluateSubmanifold(net.graph, types, new Map([['input', f64(net.image)]]), new Map([...net.params].map(([k, v]) => [k, f64(v)])), f64(net.mask))
        for (const f of feats) {
          const w = want.get(f)?.data ?? new Float64Array()
          fc.pre(maxAbs(w) > 0) // a dead (all-zero) feature map would prove nothing
          expect(relErr(got.get(f)?.data ?? [], w), `${net.label}: ${f}`).toBeLessThanOrEqual(1e-9)
        }
        return true
      }),
      runs(25),
    )
  })

  it('e. pixels inside masked patches never change the features', () => {
    fc.assert(
      fc.property(netArb, fc.integer({ min: 1, max: 2 ** 30 }), (net, s) => {
        const sparse = right(sparsify().run(net.graph))
        const [, H, W] = net.image.shape as [number, number, number, number]
        const m = expandMask(net.mask, H, W)
        if (E.isLeft(m)) throw new Error(m.left.message)
        const changed = Float32Array.from(net.image.data, (v, i) => (m.right.data[Math.floor(i / 3)] === 0 ? v + 100 * Math.sin(s + i) : v))
        const a = run64(sparse, net.shapes, { input: net.image, mask: net.mask }, net.params)
        const b = run64(sparse, net.shapes, { input: { shape: net.image.shape, data: changed }, mask: net.mask }, net.params)
        for (const f of feats) {
          const [x, y] = [a.get(f)?.data ?? [], b.get(f)?.data ?? []]
          expect(x.length).toBeGreaterThan(0)
          expect(Array.from(x).every((v, i) => v === y[i]), `${net.label}: ${f}`).toBe(true)
        }
        return true
      }),
      runs(15),
    )
  })

  it('f. desparsify(sparsify(g)) prints and evaluates as g', () => {
    fc.assert(
      fc.property(netArb, (net) => {
        const back = right(desparsifyGraph(right(sparsify().run(net.graph))))
        expect(printGraph(back)).toBe(printGraph(net.graph))
        const [x, y] = [run64(back, net.shapes, { input: net.image }, net.params), run64(net.graph, net.shapes, { input: net.image }, net.params)]
        for (const f of feats) expect(Array.from(x.get(f)?.data ?? [])).toEqual(Array.from(y.get(f)?.data ?? []))
        return true
      }),
      runs(25),
    )
  })
})

describe('sparsify: structure and errors', () => {
  it('keeps node names and ids, adds one mask input and one maskLike per resolution', () => {
    const net = fc.sample(netArb, { seed: 7, numRuns: 1 })[0]!
    const res = right(sparsifyGraph(net.graph))
    const g = res.graph
    expect(g.nodes.filter((n) => n.op === 'input').map((n) => n.op === 'input' && n.params.name)).toEqual(['input', 'mask'])
    for (const n of net.graph.nodes) expect(g.nodes.find((m) => m.id === n.id)?.name).toBe(n.name)
    const likes = g.nodes.filter((n) => n.op === 'maskLike').map((n) => n.name)
    expect(new Set(likes).size).toBe(likes.length)
    expect(E.isRight(verify(g, net.shapes))).toBe(true)
  })

  it('a sigmoid feeding a spatial add is a compile error naming the sigmoid and the add', () => {
    const b = new GraphBuilder()
    const x = b.input('input', [1, 8, 8, 3])
    const y = L.conv2d('conv', { out: 3, kernel: 3 })(x)
    const gate = b.node('sigmoid', [y], {}, 'blk.gate')
    const out = b.node('add', [L.relu(gate), y], {}, 'blk.add')
    const g = right(b.build([['features.0', out]]))
    const r = sparsify().run(g)
    expect(E.isLeft(r)).toBe(true)
    const msg = E.isLeft(r) ? formatError(r.left) : ''
    expect(msg).toMatch(/'blk\.gate' \(sigmoid\).*leaky.*'blk\.add' \(add\)/)
  })

  it('a leaky value reaching an output, a conv or a concat is an error; gating it by a masked value is not', () => {
    const build = (f: (x: Value) => Value): Graph => {
      const b = new GraphBuilder()
      return right(b.build([['features.0', f(b.input('input', [1, 8, 8, 3]))]]))
    }
    const leak = (g: Graph): string => {
      const r = sparsify().run(g)
      return E.isLeft(r) ? formatError(r.left) : 'no error'
    }
    expect(leak(build((x) => L.sigmoid(x)))).toMatch(/\(sigmoid\).*output 'features\.0'/)
    expect(leak(build((x) => L.conv2d('c', { out: 2, kernel: 1 })(L.sigmoid(x))))).toMatch(/\(sigmoid\).*'c' \(conv2d\)/)
    expect(leak(build((x) => L.concat([x, L.sigmoid(x)])))).toMatch(/\(sigmoid\).*\(concat\)/)
    expect(leak(build((x) => L.add(x, x.builder.param('pos', [1, 8, 8, 3], { kind: 'zeros' }))))).toMatch(/'pos' \(param\).*\(add\)/)
    expect(leak(build((x) => L.mul(x, L.sigmoid(x))))).toBe('no error')
    expect(leak(build((x) => L.convTranspose2d('t', { out: 2, kernel: 2, stride: 2 })(x)))).toMatch(/'t'.*conv2dTranspose/)
  })

  it('a mask grid that does not divide a feature map is a shape error naming the maskLike and both shapes', () => {
    const net = fc.sample(netArb, { seed: 3, numRuns: 1 })[0]!
    const g = right(sparsify().run(net.graph))
    const [B, h, w] = net.mask.shape as [number, number, number]
    const r = verify(g, { input: net.shapes['input'] ?? [], mask: [B, h + 1, w, 1] })
    expect(E.isLeft(r) && formatError(r.left)).toMatch(/\(maskLike\): x's (height|width) \d+ is not an integer multiple of the mask's \d+; mask \[.*\], x \[.*\]/)
  })

  it('works on symbolic shapes: resnet18 without sizes sparsifies and verifies; concrete sizes (non-square) check the grid', () => {
    const dense = right(buildBackbone(findModel('resnet18')!.create(), {})).graph
    const g = right(sparsify().run(dense))
    expect(E.isRight(verify(g))).toBe(true)
    expect(g.nodes.find((n) => n.op === 'input' && n.params.name === 'mask')?.params).toEqual({ name: 'mask', shape: [null, null, null, 1] })
    expect(E.isRight(verify(g, { input: [1, 64, 96, 3], mask: [1, 2, 3, 1] }))).toBe(true)
    const bad = verify(g, { input: [1, 64, 96, 3], mask: [1, 3, 3, 1] })
    expect(E.isLeft(bad) && formatError(bad.left)).toMatch(/\(maskLike\): x's height 64 is not an integer multiple of the mask's 3; mask \[1,3,3,1\], x \[1,64,96,3\]/)
    const sized = right(sparsify('mask', 32).run(right(buildBackbone(findModel('resnet18')!.create(), { inputSize: [64, 96], batch: 2 })).graph))
    expect(sized.nodes.find((n) => n.op === 'input' && n.params.name === 'mask')?.params).toEqual({ name: 'mask', shape: [2, 2, 3, 1] })
  })

  it('desparsify turns densify-style mask ops back into dense ones (maskedBatchNorm → batchNorm, maskFill → x)', () => {
    const b = new GraphBuilder({ training: true })
    const x = b.input('input', [2, 4, 4, 3])
    const mask = b.input('mask', [2, 2, 2, 1])
    const m = b.node('maskLike', [mask, x], {})
    const c = L.conv2d('c', { out: 3, kernel: 1 })(x)
    const bnp = ['weight', 'bias', 'running_mean', 'running_var'].map((k, i) => b.param(`bn.${k}`, [3], { kind: 'ones' }, i < 2))
    const bn = b.node('maskedBatchNorm', [c, m, ...bnp], { eps: 1e-5, momentum: 0.1, training: true }, 'bn')
    const filled = b.node('maskFill', [bn, m, b.param('token', [3], { kind: 'zeros' })], {})
    const g = right(b.build([['out', L.relu(filled)]]))
    const d = right(desparsifyGraph(g))
    expect(d.nodes.map((n) => n.op)).toEqual(['input', 'param', 'param', 'conv2d', 'param', 'param', 'param', 'param', 'batchNorm', 'param', 'relu'])
    const reads = new Map(d.nodes.map((n) => [n.id, n.inputs]))
    const bnNode = d.nodes.find((n) => n.op === 'batchNorm')!
    expect(reads.get(d.outputs[0]!.node)).toEqual([bnNode.id])
    expect(E.isRight(verify(d))).toBe(true)
    const stray = right(new GraphBuilder().build([]))
    expect(E.isRight(desparsifyGraph(stray))).toBe(true)
  })

  it('sparsify refuses an already sparse graph and a name clash', () => {
    const net = fc.sample(netArb, { seed: 5, numRuns: 1 })[0]!
    const once = right(sparsify().run(net.graph))
    const twice = sparsify().run(once)
    expect(E.isLeft(twice) && formatError(twice.left)).toMatch(/mask input 'mask'|duplicate input name 'mask'|already contains mask ops/)
    const other = sparsify('m2').run(once)
    expect(E.isLeft(other) && formatError(other.left)).toMatch(/already contains mask ops/)
  })
})
