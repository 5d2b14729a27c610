// Shared pieces of the SparK tests: random small backbones built only from ops a sparse encoder supports
// (two stages, total stride 4, outputs features.0/1), random SparK masks with at least one visible cell,
// float64 evaluation helpers, and the fast-check run settings (FC_SEED replays, SPARKTS_DEEP=1 runs ×10).

import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../../src/ir/builder.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import type { Graph } from '../../src/ir/graph.js'
import { formatError } from '../../src/ir/errors.js'
import { initParams } from '../../src/ir/init.js'
import type { Types } from '../../src/ir/infer.js'
import { inferTypes } from '../../src/ir/infer.js'
import type { HostTensor } from '../../src/ir/types.js'
import * as L from '../../src/models/layers.js'
import { evaluate } from '../../src/backends/reference/interpret.js'
import type { F64Tensor } from '../../src/backends/reference/tensor.js'
import { randomMask } from '../../src/spark/mask.js'
import { hashSeed } from '../../src/util/rng.js'
import { randn } from '../arbitraries.js'

const deep = process.env['SPARKTS_DEEP'] === '1'
/** The fast-check seed of this process (FC_SEED replays a failure). */
export const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31)
/** fast-check parameters: `n` runs, ×10 in deep mode. */
export const runs = (n: number): { seed: number; numRuns: number } => ({ seed, numRuns: deep ? n * 10 : n })

/** A random backbone with its values. */
export interface Net {
  readonly label: string
  readonly graph: Graph
  readonly shapes: Readonly<Record<string, ReadonlyArray<number>>>
  readonly image: HostTensor
  readonly mask: HostTensor
  readonly params: ReadonlyMap<string, HostTensor>
}

type Block = (x: Value, p: string, c: number, k: number, cip: boolean) => Value
const C = (x: Value): number => x.type.shape[3] as number

/** Blocks that keep the resolution; every one is supported by sparsify. */
const blocks: ReadonlyArray<Block> = [
  (x, p, c, k) => pipe(x, L.conv2d(`${p}.conv`, { out: c, kernel: k, bias: false }), L.batchNorm(`${p}.bn`), L.relu),
  (x, p) => pipe(x, L.conv2d(`${p}.dw`, { out: C(x), kernel: 3, groups: C(x) }), L.layerNorm(`${p}.ln`), L.gelu),
  (x, p) => L.add(x, pipe(x, L.conv2d(`${p}.res`, { out: C(x), kernel: 3, dilation: 2 }), L.silu)),
  (x, p) => L.add(x, pipe(x, L.linear(`${p}.fc1`, 2 * C(x)), L.gelu, L.grn(`${p}.grn`), L.linear(`${p}.fc2`, C(x)), L.scale(`${p}.gamma`, 0.5))),
  (x, p) => L.mul(x, pipe(x, L.globalAvgPool, L.linear(`${p}.se1`, 2), L.relu, L.linear(`${p}.se2`, C(x)), L.sigmoid, L.reshape([1, 1, C(x)]))),
  (x, p) => pipe(x, L.maxPool({ kernel: 3, stride: 1, padding: 1 }, `${p}.max`)),
  (x, p, _c, _k, cip) => pipe(x, L.groupNorm(`${p}.gn`, 1), L.relu6, L.avgPool({ kernel: 3, stride: 1, padding: 1, countIncludePad: cip }, `${p}.avg`)),
  (x, p) => L.concat([x, pipe(x, L.conv2d(`${p}.cat`, { out: 2, kernel: 1 }), L.relu)]),
  (x, p) => L.mul(x, pipe(x, L.conv2d(`${p}.gate`, { out: C(x), kernel: 1 }), L.sigmoid)),
]

/** Stride-2 layers between the two stages. */
const downs: ReadonlyArray<(x: Value, c: number) => Value> = [
  (x, c) => L.conv2d('down', { out: c, kernel: 2, stride: 2, padding: 0 })(x),
  (x, c) => L.conv2d('down', { out: c, kernel: 3, stride: 2, padding: 1 })(x),
  (x) => L.maxPool({ kernel: 3, stride: 2, padding: 1 }, 'down')(x),
  (x) => L.avgPool({ kernel: 2, stride: 2 }, 'down')(x),
]

/** Params as seeded normals ×0.5 (running variances made positive). */
export const randomParams = (g: Graph, s: number): Map<string, HostTensor> =>
  new Map([...initParams(g, s)].map(([name, t]) => {
    const r = randn(t.shape, hashSeed(name, s), 0.5)
    if (name.endsWith('running_var')) r.data.forEach((v, i) => (r.data[i] = 0.5 + Math.abs(v)))
    return [name, r] as const
  }))

/** A random two-stage backbone on a (B, 4h, 4w, 3) image with a random SparK mask (≥ 1 visible cell per sample). */
export const netArb: fc.Arbitrary<Net> = fc
  .record({
    stage1: fc.array(fc.nat(blocks.length - 1), { minLength: 1, maxLength: 3 }),
    stage2: fc.array(fc.nat(blocks.length - 1), { minLength: 0, maxLength: 2 }),
    down: fc.nat(downs.length - 1),
    c: fc.integer({ min: 2, max: 4 }),
    k: fc.constantFrom(1, 3),
    cip: fc.boolean(),
    training: fc.boolean(),
    batch: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 3 }),
    w: fc.integer({ min: 2, max: 3 }),
    ratio: fc.double({ min: 0, max: 0.7, noNaN: true }),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  })
  .map((o) => {
    const shape = [o.batch, 4 * o.h, 4 * o.w, 3]
    const b = new GraphBuilder({ training: o.training })
    const x = b.input('input', [o.batch, null, null, 3])
    const stem = pipe(x, L.conv2d('stem', { out: o.c, kernel: 3, stride: 2, padding: 1 }))
    const f0 = o.stage1.reduce((v, m, i) => (blocks[m] ?? ((u: Value) => u))(v, `s0.${i}`, o.c, o.k, o.cip), stem)
    const f1 = o.stage2.reduce((v, m, i) => (blocks[m] ?? ((u: Value) => u))(v, `s1.${i}`, o.c, o.k, o.cip), (downs[o.down] ?? ((u: Value) => u))(f0, o.c))
    const g = b.build([['features.0', f0], ['features.1', f1]])
    if (E.isLeft(g)) throw new Error(formatError(g.left))
    const mask = randomMask({ batch: o.batch, h: o.h, w: o.w, ratio: o.ratio, seed: o.seed })
    if (E.isLeft(mask)) throw new Error(mask.left.message)
    const label = `net stage1=[${o.stage1}] down=${o.down} stage2=[${o.stage2}] c=${o.c} k=${o.k} training=${o.training} image=[${shape}] ratio=${o.ratio.toFixed(3)} seed=${o.seed}`
    return { label, graph: g.right, shapes: { input: shape, mask: [o.batch, o.h, o.w, 1] }, image: randn(shape, o.seed + 1), mask: mask.right, params: randomParams(g.right, o.seed) }
  })

/** Widens a host tensor to float64. */
export const f64 = (t: HostTensor): F64Tensor => ({ shape: t.shape, data: Float64Array.from(t.data) })

/** Concrete types of a graph for the given input shapes (throws with the formatted error). */
export const typesOf = (g: Graph, shapes: Readonly<Record<string, ReadonlyArray<number>>>): Types => {
  const t = inferTypes(g, shapes)
  if (E.isLeft(t)) throw new Error(formatError(t.left))
  return t.right
}

/** Float64 reference outputs of `g` for the given inputs (only those `g` declares are bound). */
export const run64 = (g: Graph, shapes: Readonly<Record<string, ReadonlyArray<number>>>, inputs: Readonly<Record<string, HostTensor>>, params: ReadonlyMap<string, HostTensor>): Map<string, F64Tensor> =>
  evaluate(g, typesOf(g, shapes), new Map(Object.entries(inputs).map(([k, v]) => [k, f64(v)])), new Map([...params].map(([k, v]) => [k, f64(v)])))

/** max|a − b| / max(1, max|b|). */
export const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0
  let m = 1
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)))
    m = Math.max(m, Math.abs(b[i] ?? 0))
  }
  return Number.isNaN(d) ? Infinity : d / m
}

/** Unwraps a Right or throws the formatted error. */
export const right = <A>(e: E.Either<Parameters<typeof formatError>[0], A>): A => {
  if (E.isLeft(e)) throw new Error(formatError(e.left))
  return e.right
}
