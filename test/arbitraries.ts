// fast-check arbitraries that build valid-by-construction graphs: one case generator per op kind (a
// mapped type over OpKind, so a new op fails to compile until it has a conformance case) and small random
// CNNs composed from a menu of blocks. Values are random normals from a seeded stream.

import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../src/ir/builder.js'
import { GraphBuilder } from '../src/ir/builder.js'
import type { Graph } from '../src/ir/graph.js'
import { graphInputs } from '../src/ir/graph.js'
import type { OpKind } from '../src/ir/ops.js'
import { initParams } from '../src/ir/init.js'
import { formatError } from '../src/ir/errors.js'
import type { HostTensor } from '../src/ir/types.js'
import { sizeOf } from '../src/ir/types.js'
import * as L from '../src/models/layers.js'
import { hashSeed, makeRng } from '../src/util/rng.js'

/** A ready-to-run test case: graph, concrete input shapes, input and parameter values. */
export interface Case {
  readonly label: string
  readonly graph: Graph
  readonly inputShapes: Readonly<Record<string, ReadonlyArray<number>>>
  readonly inputs: ReadonlyMap<string, HostTensor>
  readonly params: ReadonlyMap<string, HostTensor>
}

/** Random normal tensor of a shape (seeded). */
export const randn = (shape: ReadonlyArray<number>, seed: number, scale = 1): HostTensor => {
  const r = makeRng(seed)
  const data = new Float32Array(sizeOf(shape))
  for (let i = 0; i < data.length; i++) data[i] = r.normal() * scale
  return { shape, data }
}

/** Builds a case from a body; params are drawn as random normals scaled by 1/sqrt(fan) (running var > 0). */
export const makeCase = (
  label: string,
  shapes: Readonly<Record<string, ReadonlyArray<number>>>,
  seed: number,
  body: (ins: ReadonlyArray<Value>) => Value,
  training = false,
): Case => {
  const b = new GraphBuilder({ training })
  const ins = Object.entries(shapes).map(([name, s]) => b.input(name, s))
  const out = body(ins)
  const g = b.build([['out', out]])
  if (E.isLeft(g)) throw new Error(`${label}: ${formatError(g.left)}`)
  const params = new Map(
    [...initParams(g.right, seed)].map(([name, t]) => {
      const r = randn(t.shape, hashSeed(name, seed), 0.5)
      // Running variances must stay positive; everything else is a generic random value.
      if (name.endsWith('running_var')) r.data.forEach((v, i) => (r.data[i] = 0.5 + Math.abs(v)))
      return [name, r] as const
    }),
  )
  const inputs = new Map(graphInputs(g.right).map((n, i) => [n.params.name, randn(shapes[n.params.name] ?? [], seed + 101 * (i + 1))] as const))
  return { label, graph: g.right, inputShapes: shapes, inputs, params }
}

const nat = (lo: number, hi: number) => fc.integer({ min: lo, max: hi })
const seedArb = fc.integer({ min: 1, max: 2 ** 30 })
const nhwc = fc.record({ b: nat(1, 2), h: nat(3, 7), w: nat(3, 7), c: nat(1, 4) })
type Dims = { b: number; h: number; w: number; c: number }
const shp = (d: Dims): number[] => [d.b, d.h, d.w, d.c]

const unaryCase = (op: 'relu' | 'relu6' | 'gelu' | 'silu' | 'sigmoid') =>
  fc.tuple(nhwc, seedArb).map(([d, s]) =>
    makeCase(`${op} x=${shp(d)}`, { x: shp(d) }, s, ([x]) => {
      // Scale so relu6's upper kink (6) is exercised too.
      const y = pipe(x!, L.conv2d('scale', { out: d.c, kernel: 1, bias: false, init: { kind: 'constant', value: 0 } }))
      return L[op](op === 'relu6' ? L.add(y, x!) : x!)
    }),
  )

/** A 0/1 mask tensor (B,h,w,1) with at least one active cell per sample (seeded). */
export const binaryMask = (shape: ReadonlyArray<number>, seed: number): HostTensor => {
  const r = makeRng(seed)
  const data = Float32Array.from({ length: sizeOf(shape) }, () => (r.uniform() < 0.5 ? 1 : 0))
  const per = sizeOf(shape) / (shape[0] ?? 1)
  for (let b = 0; b < (shape[0] ?? 1); b++) data[b * per + Math.floor(r.uniform() * per)] = 1
  return { shape, data }
}

/** A case whose input `m` (or `mask`) is replaced by a 0/1 mask. */
const withMask = (c: Case, name: string, seed: number): Case =>
  ({ ...c, inputs: new Map([...c.inputs, [name, binaryMask(c.inputShapes[name] ?? [], seed)] as const]) })

const maskedNormCase = (d: Dims, seed: number, label: string, body: (x: Value, m: Value) => Value, training = false): Case =>
  withMask(makeCase(`${label} x=${shp(d)}`, { x: shp(d), m: [d.b, d.h, d.w, 1] }, seed, ([x, m]) => body(x!, m!), training), 'm', seed + 5)

const vec = (x: Value, name: string, c: number): Value => x.builder.param(name, [c], { kind: 'normal', std: 1 })

/** One case generator per op kind. */
export const opCases: { readonly [K in OpKind]: fc.Arbitrary<Case> } = {
  input: fc.tuple(nhwc, seedArb).map(([d, s]) => makeCase(`input x=${shp(d)}`, { x: shp(d) }, s, ([x]) => L.relu(x!))),
  param: fc.tuple(nhwc, seedArb).map(([d, s]) =>
    makeCase(`param c=${d.c}`, { x: shp(d) }, s, ([x]) => L.mul(x!, x!.builder.param('p', [d.c], { kind: 'ones' })))),
  conv2d: fc
    .tuple(nhwc, nat(1, 3), nat(1, 4), nat(1, 2), nat(0, 2), nat(0, 2), nat(1, 2), fc.boolean(), fc.boolean(), seedArb)
    .map(([d, k, out, s, p0, p1, dil, bias, grouped, seed]) => {
      const groups = grouped && out % d.c === 0 ? d.c : 1
      const h = Math.max(d.h, dil * (k - 1) + 1)
      const dd = { ...d, h, w: Math.max(d.w, dil * (k - 1) + 1) }
      return makeCase(`conv2d x=${shp(dd)} k=${k} out=${out} s=${s} pad=[${p0},${p1}] d=${dil} g=${groups} bias=${bias}`, { x: shp(dd) }, seed, ([x]) =>
        L.conv2d('c', { out, kernel: k, stride: s, padding: [[p0, p1], [p1, p0]], dilation: dil, groups, bias })(x!))
    }),
  conv2dTranspose: fc.tuple(nhwc, nat(1, 4), nat(1, 3), nat(1, 2), nat(0, 1), fc.boolean(), seedArb).map(([d, k, out, s, p, bias, seed]) => {
    const pad = Math.min(p, Math.floor((k - 1) / 2))
    const op = s > 1 && pad > 0 ? 1 : 0
    return makeCase(`conv2dTranspose x=${shp(d)} k=${k} out=${out} s=${s} p=${pad} op=${op}`, { x: shp(d) }, seed, ([x]) =>
      L.convTranspose2d('t', { out, kernel: k, stride: s, padding: pad, outputPadding: op, bias })(x!))
  }),
  batchNorm: fc.tuple(nhwc, fc.boolean(), seedArb).map(([d, training, s]) => {
    const dd = { ...d, b: 2 }
    return makeCase(`batchNorm x=${shp(dd)} training=${training}`, { x: shp(dd) }, s, ([x]) => L.batchNorm('bn')(x!), training)
  }),
  // C ≥ 3: over 2 channels LN maps every position to ±1 and its exact gradient is an eps-driven
  // cancellation below float32 resolution, which no float32 backend can match to 1e-3.
  layerNorm: fc.tuple(nhwc, seedArb).map(([d, s]) => makeCase(`layerNorm x=${shp({ ...d, c: d.c + 2 })}`, { x: shp({ ...d, c: d.c + 2 }) }, s, ([x]) => L.layerNorm('ln')(x!))),
  groupNorm: fc.tuple(nhwc, nat(1, 2), seedArb).map(([d, g, s]) =>
    makeCase(`groupNorm x=${shp({ ...d, c: 2 * g })} g=${g}`, { x: shp({ ...d, c: 2 * g }) }, s, ([x]) => L.groupNorm('gn', g)(x!))),
  grn: fc.tuple(nhwc, seedArb).map(([d, s]) => makeCase(`grn x=${shp(d)}`, { x: shp(d) }, s, ([x]) => L.grn('grn')(x!))),
  linear: fc.tuple(nhwc, nat(1, 5), fc.boolean(), seedArb).map(([d, out, bias, s]) =>
    makeCase(`linear x=${shp(d)} out=${out} bias=${bias}`, { x: shp(d) }, s, ([x]) => L.linear('fc', out, { bias })(x!))),
  relu: unaryCase('relu'),
  relu6: unaryCase('relu6'),
  gelu: unaryCase('gelu'),
  silu: unaryCase('silu'),
  sigmoid: unaryCase('sigmoid'),
  add: fc.tuple(nhwc, fc.boolean(), seedArb).map(([d, bc, s]) =>
    makeCase(`add x=${shp(d)} y=${bc ? `[${d.c}]` : shp(d)}`, { x: shp(d), y: bc ? [1, 1, 1, d.c] : shp(d) }, s, ([x, y]) => L.add(x!, y!))),
  mul: fc.tuple(nhwc, fc.boolean(), seedArb).map(([d, bc, s]) =>
    makeCase(`mul x=${shp(d)} y=${bc ? `[1,1,1,${d.c}]` : shp(d)}`, { x: shp(d), y: bc ? [1, 1, 1, d.c] : shp(d) }, s, ([x, y]) => L.mul(x!, y!))),
  maxPool: fc.tuple(nhwc, nat(2, 3), nat(1, 2), nat(0, 1), seedArb).map(([d, k, st, p, s]) =>
    makeCase(`maxPool x=${shp(d)} k=${k} s=${st} p=${p}`, { x: shp(d) }, s, ([x]) => L.maxPool({ kernel: k, stride: st, padding: p })(x!))),
  avgPool: fc.tuple(nhwc, nat(2, 3), nat(1, 2), nat(0, 1), fc.boolean(), seedArb).map(([d, k, st, p, cip, s]) =>
    makeCase(`avgPool x=${shp(d)} k=${k} s=${st} p=${p} countIncludePad=${cip}`, { x: shp(d) }, s, ([x]) =>
      L.avgPool({ kernel: k, stride: st, padding: p, countIncludePad: cip })(x!))),
  globalAvgPool: fc.tuple(nhwc, seedArb).map(([d, s]) => makeCase(`globalAvgPool x=${shp(d)}`, { x: shp(d) }, s, ([x]) => L.globalAvgPool(x!))),
  concat: fc.tuple(nhwc, nat(1, 3), seedArb).map(([d, c2, s]) =>
    makeCase(`concat x=${shp(d)} y=${shp({ ...d, c: c2 })}`, { x: shp(d), y: shp({ ...d, c: c2 }) }, s, ([x, y]) => L.concat([x!, y!]))),
  reshape: fc.tuple(nhwc, seedArb).map(([d, s]) => makeCase(`reshape x=${shp(d)} → [-1,${d.c}]`, { x: shp(d) }, s, ([x]) => L.reshape([-1, d.c])(x!))),
  transpose: fc.tuple(nhwc, seedArb).map(([d, s]) => makeCase(`transpose x=${shp(d)} perm=[0,3,1,2]`, { x: shp(d) }, s, ([x]) => L.transpose([0, 3, 1, 2])(x!))),
  dropPath: fc.tuple(nhwc, seedArb).map(([d, s]) => makeCase(`dropPath(0.3, inference) x=${shp(d)}`, { x: shp(d) }, s, ([x]) => L.dropPath(0.3)(x!))),
  // Mask ops: the mask inputs are 0/1 (at least one active cell per sample); gradients w.r.t. the mask are
  // checked too (the kernels are m-weighted, hence smooth in m).
  maskLike: fc.tuple(nhwc, nat(1, 3), nat(1, 2), seedArb).map(([d, h, w, s]) => {
    const [rh, rw] = [1 + (d.h % 3), 1 + (d.w % 2)]
    const dd = { ...d, h: h * rh, w: w * rw }
    return withMask(
      makeCase(`maskLike mask=[${d.b},${h},${w},1] x=${shp(dd)}`, { x: shp(dd), mask: [d.b, h, w, 1] }, s, ([x, mask]) =>
        L.mul(x!, x!.builder.node('maskLike', [mask!, x!], {}))),
      'mask',
      s + 3,
    )
  }),
  maskedBatchNorm: fc.tuple(nhwc, fc.boolean(), seedArb).map(([d, training, s]) =>
    maskedNormCase({ ...d, b: 2 }, s, `maskedBatchNorm training=${training}`, (x, m) => {
      const b = x.builder
      const c = d.c
      const ins = [x, m, vec(x, 'bn.weight', c), vec(x, 'bn.bias', c), b.param('bn.running_mean', [c], { kind: 'zeros' }, false), b.param('bn.running_var', [c], { kind: 'ones' }, false)]
      return b.node('maskedBatchNorm', ins, { eps: 1e-5, momentum: 0.1, training })
    }, training)),
  maskedGroupNorm: fc.tuple(nhwc, nat(1, 2), seedArb).map(([d, g, s]) =>
    maskedNormCase({ ...d, c: 2 * g }, s, `maskedGroupNorm g=${g}`, (x, m) =>
      x.builder.node('maskedGroupNorm', [x, m, vec(x, 'gn.weight', 2 * g), vec(x, 'gn.bias', 2 * g)], { groups: g, eps: 1e-5 }))),
  maskedGlobalAvgPool: fc.tuple(nhwc, seedArb).map(([d, s]) =>
    maskedNormCase(d, s, 'maskedGlobalAvgPool', (x, m) => x.builder.node('maskedGlobalAvgPool', [x, m], {}))),
  maskFill: fc.tuple(nhwc, seedArb).map(([d, s]) =>
    maskedNormCase(d, s, 'maskFill', (x, m) => x.builder.node('maskFill', [x, m, vec(x, 'mask_token', d.c)], {}))),
  maskedPatchLoss: fc.tuple(nat(1, 2), nat(1, 3), nat(1, 3), nat(2, 3), nat(1, 3), seedArb).map(([b, h, w, p, c, s]) => {
    const img = [b, h * p, w * p, c]
    const base = withMask(
      makeCase(`maskedPatchLoss image=${img} mask=[${b},${h},${w},1]`, { rec: img, image: img, mask: [b, h, w, 1] }, s, ([rec, image, mask]) =>
        rec!.builder.node('maskedPatchLoss', [rec!, image!, mask!], { eps: 1e-6 })),
      'mask',
      s + 9,
    )
    // At least one masked patch, so the loss is not the trivial 0 of an all-visible mask.
    const m = base.inputs.get('mask')
    if (m !== undefined && m.data.every((v) => v === 1)) m.data[m.data.length - 1] = 0
    return base
  }),
}

/** A block of a random CNN: a function of the current value. Max-pool windows never tie (a tie at a ReLU
 *  zero makes the gradient ill-defined, so finite differences would not be a valid oracle there). */
const blocks = (c: number, k: number, training: boolean): ReadonlyArray<(x: Value, i: number) => Value> => [
  (x, i) => pipe(x, L.conv2d(`b${i}.conv`, { out: c, kernel: k, bias: false }), L.batchNorm(`b${i}.bn`), L.relu),
  (x, i) => pipe(x, L.conv2d(`b${i}.dw`, { out: x.type.shape[3] as number, kernel: 3, groups: x.type.shape[3] as number }), L.layerNorm(`b${i}.ln`), L.gelu),
  (x, i) => L.add(x, pipe(x, L.conv2d(`b${i}.res`, { out: x.type.shape[3] as number, kernel: 3 }), L.silu)),
  (x, i) => pipe(x, L.linear(`b${i}.fc`, 2 * c), L.grn(`b${i}.grn`), L.linear(`b${i}.fc2`, c)),
  (x, i) => pipe(x, L.conv2d(`b${i}.down`, { out: c, kernel: 2, stride: 2, padding: 0 }), L.convTranspose2d(`b${i}.up`, { out: c, kernel: 4, stride: 2, padding: 1 })),
  (x, i) => L.concat([x, pipe(x, L.conv2d(`b${i}.cat`, { out: 2, kernel: 1 }), L.sigmoid)]),
  // A fixed random positional offset keeps window maxima unique even where a ReLU produced zeros.
  (x, i) => pipe(L.add(x, x.builder.param(`b${i}.pos`, [1, ...(x.type.shape.slice(1) as number[])], { kind: 'normal', std: 1 })), L.maxPool({ kernel: 3, stride: 1, padding: 1 })),
  (x, i) => pipe(x, L.groupNorm(`b${i}.gn`, 1), L.relu6, L.avgPool({ kernel: 3, stride: 1, padding: 1, countIncludePad: training })),
]

/** A small random CNN (3–5 blocks) on an 8×8 input; widths ≥ 3 (see the layerNorm case). */
export const randomGraphCase: fc.Arbitrary<Case> = fc
  .tuple(fc.array(nat(0, 7), { minLength: 3, maxLength: 5 }), nat(3, 4), fc.constantFrom(1, 3), fc.boolean(), nat(1, 2), seedArb)
  .map(([menu, c, k, training, batch, seed]) =>
    makeCase(`random net blocks=[${menu}] c=${c} k=${k} training=${training} b=${batch}`, { x: [batch, 8, 8, 3] }, seed, ([x]) =>
      menu.reduce((v, m, i) => (blocks(c, k, training)[m] ?? ((u: Value) => u))(v, i), x!), training))
