// Property d: the sparse statistics are the statistics of the gathered active set. For random x, 0/1 masks
// (≥ 1 active site per sample) and shapes, each masked reference kernel is compared with the DENSE reference
// kernel run on the gathered active rows, viewed as a (1, N, 1, C) tensor, and scattered back (0 elsewhere):
//   maskedBatchNorm  ≡ batchNorm(gather over all samples)            (training and inference)
//   maskedGroupNorm  ≡ groupNorm(gather of each sample)
//   maskedGlobalAvgPool ≡ globalAvgPool(gather of each sample)
//   layerNorm(x)·m   ≡ scatter(layerNorm(gather))                    (why sparse LN needs no new op)
//   grn(x)·m         ≡ scatter(grn(gather of each sample)) when x = 0 at masked sites (why GRN needs none),
//                      and differs when x is not (the precondition matters)
// Tolerance 1e-12 relative to max(1, max|ref|): both sides are float64 with a different summation order
// (~1e-15); normalisation divides by √(var + eps) ≥ √1e-6.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { AnyNode } from '../../src/ir/graph.js'
import { nodeId } from '../../src/ir/graph.js'
import type { OpKind, OpParams } from '../../src/ir/ops.js'
import { refKernels } from '../../src/backends/reference/kernels.js'
import type { RefKernel } from '../../src/backends/reference/kernels.js'
import type { F64Tensor } from '../../src/backends/reference/tensor.js'
import { binaryMask, randn } from '../arbitraries.js'
import { f64, relErr, runs, seed } from './helpers.js'

console.log(`spark kernels: fast-check seed ${seed} (set FC_SEED to replay)`)

const k = <K extends OpKind>(op: K, params: OpParams[K], ins: ReadonlyArray<F64Tensor>, out: ReadonlyArray<number>): F64Tensor =>
  (refKernels[op] as RefKernel<OpKind>)({ id: nodeId(0), op, inputs: [], params } as AnyNode, ins, out)

interface Data {
  readonly x: F64Tensor
  readonly m: F64Tensor
  readonly gamma: F64Tensor
  readonly beta: F64Tensor
  readonly rm: F64Tensor
  readonly rv: F64Tensor
  readonly dims: readonly [number, number, number, number]
}

const dataArb: fc.Arbitrary<Data> = fc
  .record({ b: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 5 }), w: fc.integer({ min: 1, max: 5 }), c: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 2 ** 30 }) })
  .map(({ b, h, w, c, s }) => {
    const C = 2 * c
    return {
      x: f64(randn([b, h, w, C], s)),
      m: f64(binaryMask([b, h, w, 1], s + 1)),
      gamma: f64(randn([C], s + 2)),
      beta: f64(randn([C], s + 3)),
      rm: f64(randn([C], s + 4)),
      rv: { shape: [C], data: f64(randn([C], s + 5)).data.map((v) => 0.5 + Math.abs(v)) },
      dims: [b, h, w, C] as const,
    }
  })

/** Flat site indices (b·H·W + p) of active sites, optionally of one sample. */
const activeSites = (d: Data, b?: number): number[] => {
  const [B, H, W] = d.dims
  const hw = H * W
  return Array.from({ length: B * hw }, (_, i) => i).filter((i) => d.m.data[i] === 1 && (b === undefined || Math.floor(i / hw) === b))
}
const gather = (x: F64Tensor, sites: ReadonlyArray<number>, C: number): F64Tensor => ({
  shape: [1, sites.length, 1, C],
  data: Float64Array.from(sites.flatMap((s) => Array.from(x.data.subarray(s * C, (s + 1) * C)))),
})
/** Writes the rows of `g` (1, n, 1, C) at `sites` of `into` (zeros elsewhere when `into` is fresh). */
const scatter = (into: Float64Array, g: F64Tensor, sites: ReadonlyArray<number>, C: number): void =>
  sites.forEach((s, r) => into.set(g.data.subarray(r * C, (r + 1) * C), s * C))

const times = (x: F64Tensor, m: F64Tensor): F64Tensor => k('mul', {}, [x, m], x.shape)

describe('d. sparse statistics ≡ statistics of the gathered active set', () => {
  it('maskedBatchNorm (training and inference)', () => {
    fc.assert(
      fc.property(dataArb, fc.boolean(), (d, training) => {
        const C = d.dims[3]
        const p = { eps: 1e-5, momentum: 0.1, training }
        const got = k('maskedBatchNorm', p, [d.x, d.m, d.gamma, d.beta, d.rm, d.rv], d.dims)
        const sites = activeSites(d)
        const want = new Float64Array(d.x.data.length)
        scatter(want, k('batchNorm', p, [gather(d.x, sites, C), d.gamma, d.beta, d.rm, d.rv], [1, sites.length, 1, C]), sites, C)
        return relErr(got.data, want) <= 1e-12
      }),
      runs(50),
    )
  })

  it('maskedGroupNorm (per sample and group)', () => {
    fc.assert(
      fc.property(dataArb, fc.constantFrom(1, 2), (d, groups) => {
        const C = d.dims[3]
        const p = { groups, eps: 1e-5 }
        const got = k('maskedGroupNorm', p, [d.x, d.m, d.gamma, d.beta], d.dims)
        const want = new Float64Array(d.x.data.length)
        for (let b = 0; b < d.dims[0]; b++) {
          const sites = activeSites(d, b)
          scatter(want, k('groupNorm', p, [gather(d.x, sites, C), d.gamma, d.beta], [1, sites.length, 1, C]), sites, C)
        }
        return relErr(got.data, want) <= 1e-12
      }),
      runs(50),
    )
  })

  it('maskedGlobalAvgPool (per sample mean over active sites)', () => {
    fc.assert(
      fc.property(dataArb, (d) => {
        const [B, , , C] = d.dims
        const got = k('maskedGlobalAvgPool', {}, [d.x, d.m], [B, C])
        const want = new Float64Array(B * C)
        for (let b = 0; b < B; b++) {
          const sites = activeSites(d, b)
          want.set(k('globalAvgPool', {}, [gather(d.x, sites, C)], [1, C]).data, b * C)
        }
        return relErr(got.data, want) <= 1e-12
      }),
      runs(50),
    )
  })

  it('layerNorm then ·m ≡ gather → layerNorm → scatter', () => {
    fc.assert(
      fc.property(dataArb, (d) => {
        const C = d.dims[3]
        const got = times(k('layerNorm', { eps: 1e-6 }, [d.x, d.gamma, d.beta], d.dims), d.m)
        const sites = activeSites(d)
        const want = new Float64Array(d.x.data.length)
        scatter(want, k('layerNorm', { eps: 1e-6 }, [gather(d.x, sites, C), d.gamma, d.beta], [1, sites.length, 1, C]), sites, C)
        return relErr(got.data, want) <= 1e-12
      }),
      runs(50),
    )
  })

  it('grn then ·m ≡ per-sample gather → grn → scatter, given x = 0 at masked sites (and not otherwise)', () => {
    let differs = 0
    fc.assert(
      fc.property(dataArb, (d) => {
        const C = d.dims[3]
        const expected = (x: F64Tensor): Float64Array => {
          const want = new Float64Array(x.data.length)
          for (let b = 0; b < d.dims[0]; b++) {
            const sites = activeSites(d, b)
            scatter(want, k('grn', { eps: 1e-6 }, [gather(x, sites, C), d.gamma, d.beta], [1, sites.length, 1, C]), sites, C)
          }
          return want
        }
        const xm = times(d.x, d.m)
        const got = times(k('grn', { eps: 1e-6 }, [xm, d.gamma, d.beta], d.dims), d.m)
        const leakyGot = times(k('grn', { eps: 1e-6 }, [d.x, d.gamma, d.beta], d.dims), d.m)
        if (relErr(leakyGot.data, expected(d.x)) > 1e-6) differs++
        return relErr(got.data, expected(xm)) <= 1e-12
      }),
      runs(50),
    )
    expect(differs, 'GRN on an unmasked x must differ somewhere (the zero-at-masked precondition is needed)').toBeGreaterThan(0)
  })

  it('masked positions are exactly 0 after maskedBatchNorm / maskedGroupNorm, even with beta ≠ 0', () => {
    fc.assert(
      fc.property(dataArb, (d) => {
        const bn = k('maskedBatchNorm', { eps: 1e-5, momentum: 0.1, training: true }, [d.x, d.m, d.gamma, d.beta, d.rm, d.rv], d.dims)
        const gn = k('maskedGroupNorm', { groups: 2, eps: 1e-5 }, [d.x, d.m, d.gamma, d.beta], d.dims)
        const C = d.dims[3]
        return [bn, gn].every((t) => Array.from(t.data).every((v, i) => d.m.data[Math.floor(i / C)] === 1 || v === 0))
      }),
      runs(30),
    )
  })
})
