// verifySparse / verifyBackbone (src/spark/verify.ts): the report PASSes on random small backbones (reference
// and tfjs-wasm), and FAILs the right properties on deliberately broken rewrites:
//   conv not re-masked (rule or graph edit) → b and c fail (a: all visible, unaffected; e: the image is masked);
//   image input not masked                  → b, c and e fail;
//   relu swapped for silu (f(0) = 0 kept)   → a and c fail, b and e hold.
// Tolerances are the library's own (tolerancesFor: 1e-4 relative on tfjs, 1e-6 on the reference whose
// outputs are rounded to float32; b and e exact on the reference, 1e-6 on tfjs); the tests assert PASS/FAIL
// and that failures are counted, not speed.

import { beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Backend } from '../../src/backends/backend.js'
import { getBackend } from '../../src/backends/index.js'
import { referenceBackend } from '../../src/backends/reference/index.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import type { AnyNode, Graph, NodeId } from '../../src/ir/graph.js'
import { inferTypes } from '../../src/ir/infer.js'
import * as L from '../../src/models/layers.js'
import type { Backbone } from '../../src/models/backbone.js'
import type { RewriteResult } from '../../src/passes/mask-rewrite.js'
import { masked, rewriteGraph } from '../../src/passes/mask-rewrite.js'
import { sparsifyGraph, sparsifyRules } from '../../src/passes/sparsify.js'
import type { RewriteRule } from '../../src/passes/mask-rewrite.js'
import type { OpKind } from '../../src/ir/ops.js'
import type { VerifyReport, VerifySubject } from '../../src/spark/verify.js'
import { formatVerifyError, tolerancesFor, verifyBackbone, verifyParams, verifySparse } from '../../src/spark/verify.js'
import { netArb, randomParams, right, runs, seed } from './helpers.js'

console.log(`spark verify: fast-check seed ${seed} (set FC_SEED to replay)`)

let wasm: Backend | undefined
beforeAll(async () => {
  const b = await getBackend('tfjs-wasm')
  if (E.isRight(b)) wasm = b.right
  else console.log(`spark verify: tfjs-wasm unavailable (${b.left}); its cases run on the reference only`)
})
const backends = (): ReadonlyArray<Backend> => [referenceBackend, ...(wasm === undefined ? [] : [wasm])]

const report = async (s: VerifySubject, b: Backend, inputSize: readonly [number, number], batch = 2, ratio = 0.5): Promise<VerifyReport> => {
  const r = await verifySparse(s, b, { inputSize, batch, runs: 2, seed: 11, maskRatio: ratio })
  if (E.isLeft(r)) throw new Error(formatVerifyError(r.left))
  return r.right
}
const verdicts = (r: VerifyReport): string => r.properties.map((p) => `${p.id}:${p.pass ? 'PASS' : 'FAIL'}`).join(' ')

/** A fixed two-stage net (16×16 input, stride 4): conv3x3+bias → relu → conv3x3 → relu → features.0; stride-2 conv → features.1. */
const fixedNet = (): Graph => {
  const b = new GraphBuilder()
  const x = b.input('input', [2, 16, 16, 3])
  const f0 = pipe(x, L.conv2d('c0', { out: 4, kernel: 3, stride: 2 }), L.relu, L.conv2d('c1', { out: 4, kernel: 3 }), L.relu)
  const f1 = pipe(f0, L.conv2d('down', { out: 6, kernel: 3, stride: 2 }), L.batchNorm('bn'), L.relu)
  return right(b.build([['features.0', f0], ['features.1', f1]]))
}

/** The sparsify driver with some rules replaced (a deliberately broken rewrite). */
const brokenRewrite = (g: Graph, over: Partial<{ readonly [K in OpKind]: RewriteRule<K> }>): RewriteResult => {
  const rules = { ...sparsifyRules, ...over }
  const types = inferTypes(g, {})
  if (E.isLeft(types)) throw new Error('types')
  const r = rewriteGraph(g, types.right, (n, cx) => (rules[n.op] as RewriteRule<OpKind>)(n, cx), (id) => ({ id, op: 'input', inputs: [], params: { name: 'mask', shape: [null, null, null, 1] }, name: 'mask' }))
  return right(r)
}
const subject = (g: Graph, rewrite: RewriteResult): VerifySubject => ({ name: 'fixed', dense: g, rewrite, params: randomParams(g, 3), downsampleRatio: 4 })

describe('verifySparse on random small backbones', () => {
  it('every property passes (reference and tfjs-wasm), with failures counted as 0', async () => {
    for (const b of backends()) {
      await fc.assert(
        fc.asyncProperty(netArb, fc.double({ min: 0.3, max: 0.7, noNaN: true }), async (net, ratio) => {
          const [B = 1, H = 4, W = 4] = net.image.shape
          const r = await report({ name: net.label, dense: net.graph, rewrite: right(sparsifyGraph(net.graph)), params: net.params, downsampleRatio: 4 }, b, [H, W], B, ratio)
          fc.pre(r.deadFeatures.length === 0) // an all-zero feature map proves nothing (the report fails it on purpose)
          expect(verdicts(r), `${b.name} ${net.label}: ${r.properties.map((p) => p.detail).join(' | ')}`).toBe('a:PASS b:PASS c:PASS e:PASS')
          expect(r.properties.every((p) => p.failures === 0 && p.worst <= tolerancesFor(b.name)[p.id])).toBe(true)
          expect(r.maskedProbes).toBeGreaterThan(0)
          expect(r.scales.length, 'image and both feature scales').toBe(3)
          return true
        }),
        runs(b.name === 'reference' ? 8 : 6),
      )
    }
  })
})

describe('verifySparse on broken rewrites', () => {
  it('a conv not re-masked (broken rule): b and c FAIL, a and e PASS', async () => {
    const g = fixedNet()
    const broken = brokenRewrite(g, { conv2d: (_n, cx) => E.right({ value: cx.keep(), state: masked }) })
    for (const b of backends()) {
      const r = await report(subject(g, broken), b, [16, 16])
      expect(verdicts(r), b.name).toBe('a:PASS b:FAIL c:FAIL e:PASS')
      const pb = r.properties.find((p) => p.id === 'b')
      expect(pb?.failures, 'non-zeros at masked positions are counted').toBeGreaterThan(0)
      expect(pb?.detail).toMatch(/worst at %\d+ .*run \d/)
    }
  })

  it('a conv not re-masked (sparsified graph edited): b and c FAIL and the worst b value is named', async () => {
    const g = fixedNet()
    const good = right(sparsifyGraph(g))
    const conv = g.nodes.find((n) => n.name === 'c1')!.id
    const remask = good.values.get(conv)!
    expect(remask).not.toBe(conv)
    const redirect = (i: NodeId): NodeId => (i === remask ? conv : i)
    const nodes = good.graph.nodes.filter((n) => n.id !== remask).map((n) => ({ ...n, inputs: n.inputs.map(redirect) }) as AnyNode)
    const edited: RewriteResult = { graph: { nodes, outputs: good.graph.outputs.map((o) => ({ ...o, node: redirect(o.node) })) }, values: new Map([...good.values, [conv, conv]]), states: good.states }
    const ok = await report(subject(g, good), referenceBackend, [16, 16])
    expect(verdicts(ok)).toBe('a:PASS b:PASS c:PASS e:PASS')
    const r = await report(subject(g, edited), referenceBackend, [16, 16])
    expect(verdicts(r)).toBe('a:PASS b:FAIL c:FAIL e:PASS')
    expect(r.properties.find((p) => p.id === 'c')?.failures).toBeGreaterThan(0)
  })

  it('the image not masked: b, c and e FAIL', async () => {
    const g = fixedNet()
    const broken = brokenRewrite(g, { input: (_n, cx) => E.right({ value: cx.keep(), state: masked }) })
    for (const b of backends()) expect(verdicts(await report(subject(g, broken), b, [16, 16])), b.name).toBe('a:PASS b:FAIL c:FAIL e:FAIL')
  })

  it('relu rewritten to silu (still 0 at 0): a and c FAIL, b and e PASS', async () => {
    const g = fixedNet()
    const good = right(sparsifyGraph(g))
    const nodes = good.graph.nodes.map((n) => (n.op === 'relu' ? ({ ...n, op: 'silu' } as AnyNode) : n))
    for (const b of backends()) expect(verdicts(await report(subject(g, { ...good, graph: { ...good.graph, nodes } }), b, [16, 16])), b.name).toBe('a:FAIL b:PASS c:FAIL e:PASS')
  })
})

describe('verifyBackbone', () => {
  const custom = (leak: boolean): Backbone => ({
    name: leak ? 'leaky' : 'gated', family: 'custom', downsampleRatio: 4, featureChannels: [4], inChannels: 3,
    features: (x) => {
      const y = L.conv2d('stem', { out: 4, kernel: 3, stride: 4, padding: 1 })(x)
      const gate = x.builder.node('sigmoid', [y], {}, 'blk.gate')
      return [x.builder.node(leak ? 'add' : 'mul', [y, gate], {}, 'blk.out')]
    },
  })
  const opts = { inputSize: [16, 12] as const, batch: 2, runs: 2, seed: 4, maskRatio: 0.5 }

  it('a gated custom backbone passes; a leaking one is a one-line compile error naming the sigmoid', async () => {
    const ok = await verifyBackbone(custom(false), referenceBackend, opts)
    expect(E.isRight(ok) && verdicts(ok.right)).toBe('a:PASS b:PASS c:PASS e:PASS')
    const bad = await verifyBackbone(custom(true), referenceBackend, opts)
    const msg = E.isLeft(bad) ? formatVerifyError(bad.left) : 'passed'
    expect(msg).toMatch(/^sparsify leaky: node %\d+ 'blk\.gate' \(sigmoid\): is non-zero at masked positions \(leaky\) and reaches node %\d+ 'blk\.out' \(add\)/)
    expect(msg).not.toMatch(/\n/)
  })

  it('refuses sizes that are not multiples of the stride and ratios that leave no visible or no masked cell', async () => {
    const size = await verifyBackbone(custom(false), referenceBackend, { ...opts, inputSize: [18, 12] })
    expect(E.isLeft(size) && formatVerifyError(size.left)).toMatch(/input size 18x12 is not a multiple of the downsample ratio 4/)
    const none = await verifyBackbone(custom(false), referenceBackend, { ...opts, maskRatio: 0.99 })
    expect(E.isLeft(none) && formatVerifyError(none.left)).toMatch(/keeps 0 of the 4x3 = 12 mask cells/)
    const all = await verifyBackbone(custom(false), referenceBackend, { ...opts, maskRatio: 0.01 })
    expect(E.isLeft(all) && formatVerifyError(all.left)).toMatch(/keeps 12 of the 4x3 = 12 mask cells/)
  })

  it('verifyParams perturbs every 1-D parameter (no switched-off branch) and keeps BN running variances positive', () => {
    const g = fixedNet()
    const p = verifyParams(g, 1)
    const vecs = [...p].filter(([, t]) => t.shape.length === 1)
    expect(vecs.length).toBeGreaterThan(0)
    for (const [name, t] of vecs) {
      expect(new Set(t.data).size, `${name} is not constant`).toBe(t.data.length)
      if (name.endsWith('running_var')) expect(Math.min(...t.data), name).toBeGreaterThanOrEqual(0.5)
    }
  })
})
