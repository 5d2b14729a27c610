// ConvNeXt's explicit re-mask: sparsify re-masks after every per-position op (LN, pwconv1, pwconv2), while
// the official SparseConvNeXtBlock masks after dwconv (SparseConv2d) and sparse LN, leaves the Linears
// alone and multiplies by the mask once after the branch (spec §2). The two are exactly equal: at active
// sites every extra factor is 1, at masked sites both are 0. Checked bit for bit (float64 reference) on a
// small ConvNeXt (v1 with layer scale, and v2 with GRN, whose input must also be masked), square and
// non-square inputs, random masks (with at least one masked cell).

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../../src/ir/builder.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import * as L from '../../src/models/layers.js'
import { convnextLike } from '../../src/models/convnext.js'
import { buildBackbone } from '../../src/models/backbone.js'
import { sparsify } from '../../src/passes/sparsify.js'
import { randomMask } from '../../src/spark/mask.js'
import { randn } from '../arbitraries.js'
import { randomParams, right, run64, runs, seed } from './helpers.js'

console.log(`spark convnext: fast-check seed ${seed} (set FC_SEED to replay)`)

const cfg = { depths: [1, 1, 1, 1], dims: [4, 8, 8, 8] } as const

/** The official sparse ConvNeXt, written out: masks only where SparK's code puts them. For v2 (not in SparK)
 *  GRN must see zeros at masked sites (the per-sample active-set GRN, spec §8), so the input of GRN is masked
 *  too unless `maskBeforeGrn` is false (then pwconv1's bias leaks into GRN's Σx², which sparsify avoids). */
const official = (v2: boolean, batch: number, H: number, W: number, maskBeforeGrn = true) => {
  const b = new GraphBuilder()
  const x = b.input('input', [batch, H, W, 3])
  const mask = b.input('mask', [batch, H / 32, W / 32, 1])
  const m = (v: Value): Value => L.mul(v, b.node('maskLike', [mask, v], {}))
  const lnSparse = (name: string) => (v: Value): Value => m(L.layerNorm(name, { eps: 1e-6 })(v))
  const conv = (name: string, o: L.Conv2dOptions) => (v: Value): Value => m(L.conv2d(name, o)(v))
  let y = m(x)
  const feats: Value[] = []
  for (const [s, dim] of cfg.dims.entries()) {
    y = s === 0
      ? pipe(y, conv('downsample_layers.0.0', { out: dim, kernel: 4, stride: 4, padding: 0 }), lnSparse('downsample_layers.0.1'))
      : pipe(y, lnSparse(`downsample_layers.${s}.0`), conv(`downsample_layers.${s}.1`, { out: dim, kernel: 2, stride: 2, padding: 0 }))
    const p = `stages.${s}.0`
    const branch = pipe(
      y,
      conv(`${p}.dwconv`, { out: dim, kernel: 7, padding: 3, groups: dim }),
      lnSparse(`${p}.norm`),
      L.linear(`${p}.pwconv1`, 4 * dim),
      L.gelu,
      v2 ? (u: Value) => L.grn(`${p}.grn`)(maskBeforeGrn ? m(u) : u) : (u: Value) => u,
      L.linear(`${p}.pwconv2`, dim),
      v2 ? (u: Value) => u : L.scale(`${p}.gamma`, 1e-6),
    )
    y = L.add(m(branch), y)
    feats.push(y)
  }
  return right(b.build(feats.map((f, i) => [`features.${i}`, f] as const)))
}

describe('ConvNeXt: re-masking after every per-position op ≡ masking once after the branch', () => {
  it('bitwise equal features (v1 and v2, square and non-square)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: 2 }), fc.constantFrom([64, 64], [64, 96], [96, 64]), fc.double({ min: 0.2, max: 0.75, noNaN: true }), fc.integer({ min: 1, max: 2 ** 30 }),
        (v2, batch, [H, W], ratio, s) => {
          const bb = convnextLike('tiny', v2 ? 'convnextv2' : 'convnext', cfg, v2 ? { grn: true } : { layerScale: 1e-6, grn: false })
          const dense = right(buildBackbone(bb, { inputSize: [H, W], batch })).graph
          const ours = right(sparsify().run(dense))
          const theirs = official(v2, batch, H, W)
          const params = randomParams(dense, s)
          const mask = randomMask({ batch, h: H / 32, w: W / 32, ratio, seed: s })
          if (E.isLeft(mask)) throw new Error(mask.left.message)
          const shapes = { input: [batch, H, W, 3], mask: mask.right.shape }
          const inputs = { input: randn([batch, H, W, 3], s + 1), mask: mask.right }
          const a = run64(ours, shapes, inputs, params)
          const b = run64(theirs, shapes, inputs, params)
          for (const f of ['features.0', 'features.1', 'features.2', 'features.3']) {
            const [x, y] = [a.get(f)?.data ?? [], b.get(f)?.data ?? []]
            expect(x.length).toBe(y.length)
            expect(x.length).toBeGreaterThan(0)
            expect(Array.from(x).every((v, i) => v === y[i]), `v2=${v2} ${H}x${W} ${f}`).toBe(true)
          }
          expect(Array.from(a.get('features.3')?.data ?? []).some((v) => v !== 0)).toBe(true)
          if (v2) {
            // Without masking GRN's input, the leak changes the features: the extra mask is necessary.
            const leaky = run64(official(v2, batch, H, W, false), shapes, inputs, params).get('features.0')?.data ?? []
            expect(Array.from(leaky).some((v, i) => v !== a.get('features.0')?.data[i]), 'v2 without masking GRN input differs').toBe(true)
          }
          return true
        }),
      runs(6),
    )
  })
})
