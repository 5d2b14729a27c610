// The tfjs lowering on the cpu and wasm backends: every op kind's forward and vjp agree across the two
// backends; convolution variants (groups, depthwise, dilation with its custom gradient, conv2dTranspose
// crops) match float64 naive implementations and central finite differences; run/vjp leak no tensors;
// compile errors name the node; the reserved backends answer Left in Node.
// Tolerances: cpu vs wasm forward max|Δ|/max(1, max|cpu|) ≤ 1e-5 (float32 results that differ only in
//   summation order / erf-sigmoid approximations, ~1e-7 each); gradients ≤ 1e-4 (training batch norm and
//   group norm chain a few reductions of ≤ 300 terms). FD: as in tfjs-wasm-kernels.test.ts (linear losses,
//   h = 1e-6, tolerance 1e-4·Σ|g·v|).

import { beforeAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import type { Backend, TensorMap } from '../../src/backends/backend.js'
import { tfjsCpuBackend } from '../../src/backends/tfjs/cpu.js'
import { tfjsWasmBackend } from '../../src/backends/tfjs/wasm.js'
import { tfjsWebglBackend } from '../../src/backends/tfjs/webgl.js'
import { tfjsNodeGpuBackend } from '../../src/backends/tfjs/node-gpu.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { compileTfjs, withOverrides } from '../../src/backends/tfjs/lower.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import type { Value } from '../../src/ir/builder.js'
import { formatError } from '../../src/ir/errors.js'
import type { Graph } from '../../src/ir/graph.js'
import { graphParams } from '../../src/ir/graph.js'
import type { OpKind, OpParams } from '../../src/ir/ops.js'
import type { HostTensor } from '../../src/ir/types.js'
import type { T64 } from './tfjs-helpers.js'
import { absDot, centralDiff, conv64, convT64, dot, randn64 } from './tfjs-helpers.js'

const wasm = tfjsWasmBackend()
const backends: ReadonlyArray<Backend> = [tfjsCpuBackend, wasm]
beforeAll(async () => {
  for (const b of backends) {
    const ok = await b.init()
    if (E.isLeft(ok)) throw new Error(ok.left)
  }
})

interface Case {
  readonly graph: Graph
  readonly shape: ReadonlyArray<number>
  readonly params: Map<string, HostTensor>
}

const host = (t: T64): HostTensor => ({ shape: t.shape, data: Float32Array.from(t.data) })

/** One-op graph: input x of `shape`, params of the given shapes (seeded normals; running var positive). */
const oneOp = <K extends OpKind>(op: K, shape: number[], pshapes: number[][], params: OpParams[K], training = false, extra?: (b: GraphBuilder, x: Value) => Value[]): Case => {
  const b = new GraphBuilder({ training })
  const x = b.input('x', shape)
  const ps = pshapes.map((s, i) => b.param(`p${i}`, s, { kind: 'zeros' }, !(op === 'batchNorm' && i >= 2)))
  const y = b.node(op, [x, ...(extra?.(b, x) ?? []), ...ps], params, `${op}0`)
  const g = b.build([['out', y]])
  if (E.isLeft(g)) throw new Error(formatError(g.left))
  const vals = new Map<string, HostTensor>()
  for (const [i, p] of graphParams(g.right).entries()) {
    const r = randn64(p.params.shape, 500 + i)
    vals.set(p.params.name, host(op === 'batchNorm' && i === 3 ? { shape: r.shape, data: r.data.map((v) => Math.abs(v) + 0.5) } : r))
  }
  return { graph: g.right, shape, params: vals }
}

/** A soft mask m = sigmoid(param) at x4's resolution (values in (0,1), so Σm > 0), inserted after x. */
const softMask = (b: GraphBuilder): Value[] => [b.node('sigmoid', [b.param('mk', [2, 6, 6, 1], { kind: 'zeros' })], {})]

/** x ⊙ maskLike(mask (2,3,2,1) param, x (2,6,6,4)): block upsampling by 2×3. */
const maskLikeCase = (): Case => {
  const b = new GraphBuilder()
  const x = b.input('x', x4)
  const y = b.node('mul', [x, b.node('maskLike', [b.param('p0', [2, 3, 2, 1], { kind: 'zeros' }), x], {}, 'maskLike0')], {})
  const g = b.build([['out', y]])
  if (E.isLeft(g)) throw new Error(formatError(g.left))
  return { graph: g.right, shape: x4, params: new Map([['p0', host(randn64([2, 3, 2, 1], 500))]]) }
}

const conv = (o: Partial<OpParams['conv2d']> = {}): OpParams['conv2d'] => ({ strides: [1, 1], padding: [[1, 1], [1, 1]], dilations: [1, 1], groups: 1, ...o })
const x4 = [2, 6, 6, 4]
const cases: { readonly [K in Exclude<OpKind, 'input' | 'param'>]: ReadonlyArray<Case> } = {
  conv2d: [
    oneOp('conv2d', [2, 7, 6, 4], [[3, 3, 4, 5], [5]], conv({ strides: [2, 2], padding: [[0, 1], [2, 0]] })),
    oneOp('conv2d', x4, [[3, 3, 1, 8], [8]], conv({ groups: 4 })),
    oneOp('conv2d', x4, [[3, 3, 2, 6]], conv({ groups: 2 })),
    oneOp('conv2d', x4, [[3, 3, 4, 3], [3]], conv({ dilations: [2, 2], padding: [[2, 2], [2, 1]] })),
    oneOp('conv2d', x4, [[3, 3, 1, 4]], conv({ groups: 4, dilations: [2, 2], padding: [[2, 2], [2, 2]] })),
  ],
  conv2dTranspose: [
    oneOp('conv2dTranspose', [2, 4, 4, 3], [[4, 4, 2, 3], [2]], { strides: [2, 2], padding: [1, 1], outputPadding: [0, 0] }),
    oneOp('conv2dTranspose', [1, 4, 5, 3], [[3, 3, 2, 3]], { strides: [2, 2], padding: [1, 1], outputPadding: [1, 1] }),
  ],
  batchNorm: [oneOp('batchNorm', x4, [[4], [4], [4], [4]], { eps: 1e-5, momentum: 0.1, training: true }, true), oneOp('batchNorm', x4, [[4], [4], [4], [4]], { eps: 1e-5, momentum: 0.1, training: false })],
  layerNorm: [oneOp('layerNorm', x4, [[4], [4]], { eps: 1e-6 })],
  groupNorm: [oneOp('groupNorm', x4, [[4], [4]], { groups: 2, eps: 1e-5 })],
  grn: [oneOp('grn', x4, [[4], [4]], { eps: 1e-6 })],
  linear: [oneOp('linear', x4, [[4, 3], [3]], {}), oneOp('linear', [3, 5], [[5, 2]], {})],
  relu: [oneOp('relu', x4, [], {})],
  relu6: [oneOp('relu6', x4, [], {})],
  gelu: [oneOp('gelu', x4, [], {})],
  silu: [oneOp('silu', x4, [], {})],
  sigmoid: [oneOp('sigmoid', x4, [], {})],
  add: [oneOp('add', x4, [[4]], {})],
  mul: [oneOp('mul', x4, [[1, 6, 1]], {})],
  maxPool: [oneOp('maxPool', x4, [], { window: [3, 3], strides: [2, 2], padding: [[1, 1], [1, 0]] })],
  avgPool: [
    oneOp('avgPool', x4, [], { window: [3, 3], strides: [1, 1], padding: [[1, 1], [1, 1]], countIncludePad: false }),
    oneOp('avgPool', x4, [], { window: [3, 3], strides: [2, 2], padding: [[1, 1], [0, 1]], countIncludePad: true }),
  ],
  globalAvgPool: [oneOp('globalAvgPool', x4, [], {})],
  concat: [oneOp('concat', x4, [], { axis: 3 }, false, (_b, x) => [x])],
  reshape: [oneOp('reshape', x4, [], { shape: [-1, 8] })],
  transpose: [oneOp('transpose', x4, [], { perm: [0, 3, 1, 2] })],
  dropPath: [oneOp('dropPath', [4, 3, 3, 2], [], { rate: 0.5, training: true }, true), oneOp('dropPath', x4, [], { rate: 0.5, training: false })],
  maskLike: [maskLikeCase()],
  maskedBatchNorm: [oneOp('maskedBatchNorm', x4, [[4], [4], [4], [4]], { eps: 1e-5, momentum: 0.1, training: true }, true, softMask)],
  maskedGroupNorm: [oneOp('maskedGroupNorm', x4, [[4], [4]], { groups: 2, eps: 1e-5 }, false, softMask)],
  maskedGlobalAvgPool: [oneOp('maskedGlobalAvgPool', x4, [], {}, false, softMask)],
  maskFill: [oneOp('maskFill', x4, [[4]], {}, false, softMask)],
  maskedPatchLoss: [oneOp('maskedPatchLoss', x4, [], { eps: 1e-6 }, false, (b) => [b.param('img', x4, { kind: 'zeros' }), b.node('sigmoid', [b.param('mk', [2, 3, 3, 1], { kind: 'zeros' })], {})])],
}

const runOn = async (b: Backend, c: Case): Promise<{ out: HostTensor; grads: TensorMap }> => {
  const exe = b.compile(c.graph, { inputShapes: { x: c.shape }, params: c.params })
  if (E.isLeft(exe)) throw new Error(formatError(exe.left))
  try {
    const inputs = new Map([['x', host(randn64(c.shape, 7))]])
    const before = tf.memory().numTensors
    const out = (await exe.right.run(inputs)).get('out')
    if (out === undefined) throw new Error('no output')
    const vjp = exe.right.vjp
    if (vjp === undefined) throw new Error('no vjp')
    const { grads } = await vjp(inputs, new Map([['out', host(randn64(out.shape, 8))]]))
    expect(tf.memory().numTensors, `${b.name}: run/vjp leaked tensors`).toBe(before)
    return { out, grads }
  } finally {
    exe.right.dispose()
  }
}

const rel = (a: Float32Array, b: Float32Array): number => {
  let d = 0, m = 1
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!))
    m = Math.max(m, Math.abs(b[i]!))
  }
  return d / m
}

describe('tfjs lowering: cpu ≡ wasm for every op', () => {
  for (const [op, cs] of Object.entries(cases)) {
    for (const [i, c] of cs.entries()) {
      it(`${op} #${i}`, async () => {
        const [cpu, w] = [await runOn(tfjsCpuBackend, c), await runOn(wasm, c)]
        expect(w.out.shape).toEqual(cpu.out.shape)
        expect(Math.max(...Array.from(cpu.out.data, Math.abs)), 'output must not be all zero').toBeGreaterThan(0)
        expect(rel(w.out.data, cpu.out.data), 'forward').toBeLessThanOrEqual(1e-5)
        const names = ['x', ...graphParams(c.graph).filter((p) => p.params.trainable).map((p) => p.params.name)]
        for (const n of names) {
          const gc = cpu.grads.get(n), gw = w.grads.get(n)
          expect(gc && gw, `gradient for ${n}`).toBeTruthy()
          if (gc && gw) expect(rel(gw.data, gc.data), `gradient ${n}`).toBeLessThanOrEqual(1e-4)
        }
      })
    }
  }
})

describe('tfjs lowering: convolutions against float64 + finite differences (wasm)', () => {
  const p = (c: Case, i: number): T64 => {
    const t = c.params.get(`p${i}`)!
    return { shape: t.shape, data: Float64Array.from(t.data) }
  }
  const check = async (c: Case, f64: (x: T64, w: T64) => T64): Promise<void> => {
    const x = randn64(c.shape, 7)
    const { out, grads } = await runOn(wasm, c)
    const ref = f64(x, p(c, 0))
    expect(out.shape).toEqual(ref.shape)
    expect(rel(out.data, Float32Array.from(ref.data)), 'forward vs float64').toBeLessThanOrEqual(1e-5)
    const cot = randn64(out.shape, 8)
    for (const [name, base, other] of [['x', x, p(c, 0)], ['p0', p(c, 0), x]] as const) {
      const g = grads.get(name)!
      const v = randn64(base.shape, 9)
      const loss = (t: T64): number => dot((name === 'x' ? f64(t, other) : f64(other, t)).data, cot.data)
      const fd = centralDiff(loss, base, v, 1e-6)
      expect(Math.abs(dot(g.data, v.data) - fd), `d/d${name}`).toBeLessThanOrEqual(1e-4 * absDot(g.data, v.data) + 1e-9)
    }
  }
  it('dilated conv (custom gradient)', () => check(cases.conv2d[3]!, (x, w) => addBias(conv64(x, w, [1, 1], [[2, 2], [2, 1]], false, [2, 2]), p(cases.conv2d[3]!, 1))))
  it('dilated depthwise conv (custom gradient)', () => check(cases.conv2d[4]!, (x, w) => conv64(x, { shape: [3, 3, 4, 1], data: w.data }, [1, 1], [[2, 2], [2, 2]], true, [2, 2])))
  it('conv2dTranspose k3 s2 p1 op1 (crop + pad)', () => check(cases.conv2dTranspose[1]!, (x, w) => crop(convT64(x, w, [2, 2]), 1, 0)))
  it('conv2dTranspose k4 s2 p1 (+bias)', () => check(cases.conv2dTranspose[0]!, (x, w) => addBias(crop(convT64(x, w, [2, 2]), 1, 1), p(cases.conv2dTranspose[0]!, 1))))
})

/** Crops `t` top/left rows by a and bottom/right by b (b < 0 pads with zeros). */
const crop = (t: T64, a: number, b: number): T64 => {
  const [n, h, w, c] = t.shape as [number, number, number, number]
  const oh = h - a - b, ow = w - a - b
  const out = new Float64Array(n * oh * ow * c)
  for (let i = 0; i < n; i++) for (let y = 0; y < oh; y++) for (let z = 0; z < ow; z++) for (let k = 0; k < c; k++) {
    const sy = y + a, sz = z + a
    if (sy < h && sz < w) out[((i * oh + y) * ow + z) * c + k] = t.data[((i * h + sy) * w + sz) * c + k]!
  }
  return { shape: [n, oh, ow, c], data: out }
}
const addBias = (t: T64, b: T64): T64 => ({ shape: t.shape, data: t.data.map((v, i) => v + b.data[i % b.data.length]!) })

describe('tfjs backends: errors and description', () => {
  it('compile names a missing parameter and an unlowerable node', () => {
    const c = cases.conv2d[0]!
    const missing = wasm.compile(c.graph, { inputShapes: { x: c.shape }, params: new Map() })
    expect(E.isLeft(missing) && formatError(missing.left)).toMatch(/parameter 'p0'/)
    const refusing = compileTfjs('tfjs-wasm', 'wasm', withOverrides({ conv2d: () => E.left('refused for this test') }))
    const r = refusing(c.graph, { inputShapes: { x: c.shape }, params: c.params })
    expect(E.isLeft(r) && formatError(r.left)).toMatch(/conv2d0.*\(conv2d\).*tfjs-wasm: refused for this test/)
  })
  it('grn gives finite gradients when a channel is all zero (masked)', async () => {
    const c = cases.grn[0]!
    const exe = wasm.compile(c.graph, { inputShapes: { x: c.shape }, params: c.params })
    if (E.isLeft(exe)) throw new Error(formatError(exe.left))
    const x = randn64(c.shape, 3)
    const data = Float32Array.from(x.data, (v, i) => (i % 4 === 0 ? 0 : v))
    const { grads } = await exe.right.vjp!(new Map([['x', { shape: c.shape, data }]]), new Map([['out', host(randn64(c.shape, 4))]]))
    exe.right.dispose()
    const gx = grads.get('x')!.data
    expect(gx.every(Number.isFinite)).toBe(true)
    expect(gx.some((v) => v !== 0)).toBe(true)
  })
  it('describe reports backend, version, simd, threads', () => {
    expect(wasm.describe()).toMatchObject({ backend: 'tfjs-wasm', tfjs: '4.22.0', simd: true, threads: 1 })
    expect(tfjsCpuBackend.describe()).toMatchObject({ backend: 'tfjs-cpu', tfjs: '4.22.0' })
  })
  it('webgl and node-gpu answer Left in Node', async () => {
    const w = await tfjsWebglBackend.init()
    expect(E.isLeft(w) && w.left).toMatch(/^tfjs-webgl runs in a browser/)
    const g = await tfjsNodeGpuBackend.init()
    expect(E.isLeft(g) && g.left).toMatch(/@tensorflow\/tfjs-node-gpu.*npm install/)
  })
})
