// The masked-dense lowering on tfjs (wasm, cpu) against the float64 submanifold reference (property c), and
// spot checks on zoo backbones at 64×64, batch 2, on tfjs-wasm: resnet18 and convnext_tiny sparsify and
// verify; an all-visible mask gives the dense features (a; BN in training mode for resnet18); features are
// exactly 0 at masked positions (b); pixels inside masked patches do not change the features (e).
// Tolerances: float32 vs float64, max|Δ|/max(1, max|ref|) ≤ 1e-4 as in the conformance suite (float32
// rounding ~6e-8 accumulated over these small graphs); for the zoo (a), 1e-4 as well: dense and masked BN
// are the same float32 reductions in a different form. (b) and (e) are exact: masked positions are
// multiplied by 0 (−0 and +0 compare equal).

import { beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../../src/backends/backend.js'
import { getBackend } from '../../src/backends/index.js'
import { evaluateSubmanifold } from '../../src/backends/reference/submanifold.js'
import { formatError } from '../../src/ir/errors.js'
import type { Graph } from '../../src/ir/graph.js'
import type { HostTensor } from '../../src/ir/types.js'
import { verify } from '../../src/ir/verify.js'
import { buildBackbone } from '../../src/models/backbone.js'
import { findModel } from '../../src/models/zoo.js'
import { sparsify } from '../../src/passes/sparsify.js'
import { expandMask, randomMask } from '../../src/spark/mask.js'
import { randn } from '../arbitraries.js'
import { f64, netArb, randomParams, relErr, right, runs, seed, typesOf } from './helpers.js'

console.log(`spark tfjs: fast-check seed ${seed} (set FC_SEED to replay)`)

const backends: Array<readonly [string, Backend]> = []
beforeAll(async () => {
  for (const n of ['tfjs-wasm', 'tfjs-cpu'] as const) {
    const b = await getBackend(n)
    if (E.isRight(b)) backends.push([n, b.right])
    else console.log(`spark tfjs: skipping ${n}: ${b.left}`)
  }
})

const runOn = async (b: Backend, g: Graph, shapes: Readonly<Record<string, ReadonlyArray<number>>>, inputs: ReadonlyMap<string, HostTensor>, params: ReadonlyMap<string, HostTensor>) => {
  const exe = b.compile(g, { inputShapes: shapes, params })
  if (E.isLeft(exe)) throw new Error(formatError(exe.left))
  try {
    return await exe.right.run(inputs)
  } finally {
    exe.right.dispose()
  }
}

describe('c. tfjs masked-dense lowering ≡ submanifold float64 reference', () => {
  it('random backbones on every available tfjs backend', async () => {
    expect(backends.length, 'at least tfjs-cpu must be available').toBeGreaterThan(0)
    for (const [name, b] of backends) {
      await fc.assert(
        fc.asyncProperty(netArb, async (net) => {
          const sparse = right(sparsify().run(net.graph))
          const got = await runOn(b, sparse, net.shapes, new Map([['input', net.image], ['mask', net.mask]]), net.params)
          const want = evaluateSubmanifold(net.graph, typesOf(net.graph, net.shapes), new Map([['input', f64(net.image)]]), new Map([...net.params].map(([k, v]) => [k, f64(v)])), f64(net.mask))
          for (const f of ['features.0', 'features.1']) {
            const w = want.get(f)?.data ?? new Float64Array()
            expect(w.length).toBeGreaterThan(0)
            expect(relErr(got.get(f)?.data ?? [], w), `${name} ${net.label}: ${f}`).toBeLessThanOrEqual(1e-4)
          }
          return true
        }),
        runs(8),
      )
    }
  })
})

describe('zoo spot checks on tfjs-wasm (64×64, batch 2)', () => {
  for (const [model, training] of [['resnet18', true], ['convnext_tiny', false]] as const) {
    it(`${model}: sparsify + verify; a (all visible ≡ dense), b (0 at masked), e (masked pixels do not matter)`, async () => {
      const wasm = backends.find(([n]) => n === 'tfjs-wasm')?.[1]
      if (wasm === undefined) return console.log('spark tfjs: tfjs-wasm unavailable, zoo spot check skipped')
      const entry = findModel(model)
      if (entry === undefined) throw new Error(`no ${model}`)
      const dense = right(buildBackbone(entry.create(), { inputSize: 64, batch: 2, training })).graph
      const sparse = right(sparsify('mask', 32).run(dense))
      const shapes = { input: [2, 64, 64, 3], mask: [2, 2, 2, 1] }
      expect(E.isRight(verify(sparse, shapes)), 'verify with concrete shapes').toBe(true)
      const params = randomParams(dense, 5)
      const image = randn([2, 64, 64, 3], 9)
      const mask = right(E.mapLeft((e: { message: string }) => ({ _tag: 'Invariant' as const, pass: 'mask', message: e.message }))(randomMask({ batch: 2, h: 2, w: 2, ratio: 0.5, seed: 3 })))
      const all = { shape: mask.shape, data: new Float32Array(mask.data.length).fill(1) }
      const feats = ['features.0', 'features.1', 'features.2', 'features.3']

      const d = await runOn(wasm, dense, { input: shapes.input }, new Map([['input', image]]), params)
      const a = await runOn(wasm, sparse, shapes, new Map([['input', image], ['mask', all]]), params)
      for (const f of feats) expect(relErr(a.get(f)?.data ?? [], d.get(f)?.data ?? []), `a: ${f}`).toBeLessThanOrEqual(1e-4)

      const s1 = await runOn(wasm, sparse, shapes, new Map([['input', image], ['mask', mask]]), params)
      const big = right(E.mapLeft((e: { message: string }) => ({ _tag: 'Invariant' as const, pass: 'mask', message: e.message }))(expandMask(mask, 64, 64)))
      const changed = Float32Array.from(image.data, (v, i) => (big.data[Math.floor(i / 3)] === 0 ? v - 50 + (i % 7) : v))
      const s2 = await runOn(wasm, sparse, shapes, new Map([['input', { shape: image.shape, data: changed }], ['mask', mask]]), params)
      for (const f of feats) {
        const v = s1.get(f)
        if (v === undefined) throw new Error(`no ${f}`)
        const [, H, W, C] = v.shape as [number, number, number, number]
        const m = right(E.mapLeft((e: { message: string }) => ({ _tag: 'Invariant' as const, pass: 'mask', message: e.message }))(expandMask(mask, H, W)))
        let active = 0
        for (let i = 0; i < v.data.length; i++) {
          if (m.data[Math.floor(i / C)] === 0) expect(v.data[i], `b: ${f}[${i}]`).toBe(0 * (v.data[i] ?? 0))
          else if (v.data[i] !== 0) active++
        }
        expect(active, `b: ${f} has non-zero active values`).toBeGreaterThan(0)
        expect(Array.from(v.data).every((x, i) => x === s2.get(f)?.data[i]), `e: ${f}`).toBe(true)
      }
    })
  }
})
