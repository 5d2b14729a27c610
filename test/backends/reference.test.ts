// Hand-computed cases for every reference kernel (values worked out on paper in the comments, chosen so
// that a plausible mistake — wrong layout, unbiased variance, zero-valued max padding, eps outside the sqrt —
// changes the answer), erf/GELU against 40-digit mpmath values, and the backend's compile errors.
// Tolerance 1e-12 unless stated: the cases are a few float64 operations on small numbers (rounding ~1e-15).

import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { referenceBackend } from '../../src/backends/reference/index.js'
import { refKernels } from '../../src/backends/reference/kernels.js'
import { erf, erfc, geluExact } from '../../src/backends/reference/erf.js'
import type { F64Tensor } from '../../src/backends/reference/tensor.js'
import { f64 } from '../../src/backends/reference/tensor.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import { formatError } from '../../src/ir/errors.js'
import type { Node } from '../../src/ir/graph.js'
import { nodeId } from '../../src/ir/graph.js'
import { shapeRules } from '../../src/ir/infer.js'
import type { OpKind, OpParams } from '../../src/ir/ops.js'
import { f32, hostTensor, isConcrete } from '../../src/ir/types.js'
import { initParams } from '../../src/ir/init.js'
import * as L from '../../src/models/layers.js'

/** Runs one kernel on float64 values, with the output shape from the IR's shape rule. */
const runOp = <K extends OpKind>(op: K, params: OpParams[K], ins: ReadonlyArray<F64Tensor>): F64Tensor => {
  const n: Node<K> = { id: nodeId(ins.length), op, inputs: ins.map((_, i) => nodeId(i)), params }
  const t = shapeRules[op](n, ins.map((x) => f32(x.shape)))
  if (E.isLeft(t)) throw new Error(formatError(t.left))
  if (!isConcrete(t.right.shape)) throw new Error('shape not concrete')
  return refKernels[op](n, ins, t.right.shape)
}

const close = (t: F64Tensor, shape: ReadonlyArray<number>, want: ReadonlyArray<number>, tol = 1e-12): void => {
  expect(t.shape).toEqual(shape)
  expect(t.data.length).toBe(want.length)
  want.forEach((v, i) => expect(Math.abs((t.data[i] ?? NaN) - v), `element ${i}: ${t.data[i]} vs ${v}`).toBeLessThanOrEqual(tol))
}

const iota = (shape: ReadonlyArray<number>, from = 1): F64Tensor => f64(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i + from))
const conv = (o: Partial<OpParams['conv2d']> = {}): OpParams['conv2d'] => ({ strides: [1, 1], padding: [[0, 0], [0, 0]], dilations: [1, 1], groups: 1, ...o })
const convT = (o: Partial<OpParams['conv2dTranspose']> = {}): OpParams['conv2dTranspose'] => ({ strides: [1, 1], padding: [0, 0], outputPadding: [0, 0], ...o })

describe('reference conv2d', () => {
  it('x=[1,3,3,1] w=[2,2,1,1] valid: [[37,47],[67,77]]', () => {
    // out[0,0] = 1·1 + 2·2 + 4·3 + 5·4 = 37, etc.
    close(runOp('conv2d', conv(), [iota([1, 3, 3, 1]), f64([2, 2, 1, 1], [1, 2, 3, 4])]), [1, 2, 2, 1], [37, 47, 67, 77])
  })
  it('x=[1,3,3,1] w=[2,2,1,1] ones, stride 2, padding [[1,0],[0,1]], bias 10: [13,13,34,25]', () => {
    // Rows −1..2 (top pad), columns 0..3 (right pad): windows {1,2}, {3}, {4,5,7,8}, {6,9}.
    const y = runOp('conv2d', conv({ strides: [2, 2], padding: [[1, 0], [0, 1]] }), [iota([1, 3, 3, 1]), f64([2, 2, 1, 1], [1, 1, 1, 1]), f64([1], [10])])
    close(y, [1, 2, 2, 1], [13, 13, 34, 25])
  })
  it('x=[1,3,3,1] w=[2,2,1,1] dilation 2: 1·1 + 3·2 + 7·3 + 9·4 = 64', () => {
    close(runOp('conv2d', conv({ dilations: [2, 2] }), [iota([1, 3, 3, 1]), f64([2, 2, 1, 1], [1, 2, 3, 4])]), [1, 1, 1, 1], [64])
  })
  it('x=[1,1,1,4] w=[1,1,2,4] groups 2: channels 0,1 feed outputs 0,1 and channels 2,3 feed outputs 2,3', () => {
    // w[ci,co] = [[1,0,2,0],[0,1,0,3]] → [1·1, 2·1, 3·2, 4·3].
    close(runOp('conv2d', conv({ groups: 2 }), [iota([1, 1, 1, 4]), f64([1, 1, 2, 4], [1, 0, 2, 0, 0, 1, 0, 3])]), [1, 1, 1, 4], [1, 2, 6, 12])
  })
  it('x=[1,1,1,2] w=[1,1,1,4] depthwise multiplier 2: output c·m + k reads input c', () => {
    close(runOp('conv2d', conv({ groups: 2 }), [f64([1, 1, 1, 2], [3, 5]), f64([1, 1, 1, 4], [1, 2, 3, 4])]), [1, 1, 1, 4], [3, 6, 15, 20])
  })
  it('x=[2,1,1,1] batch of two with bias: each sample separately', () => {
    close(runOp('conv2d', conv(), [f64([2, 1, 1, 1], [2, -3]), f64([1, 1, 1, 1], [4]), f64([1], [1])]), [2, 1, 1, 1], [9, -11])
  })
})

describe('reference conv2dTranspose', () => {
  it('x=[1,2,2,1] w=[2,2,1,1] stride 2: every input becomes a scaled copy of the kernel', () => {
    const y = runOp('conv2dTranspose', convT({ strides: [2, 2] }), [iota([1, 2, 2, 1]), f64([2, 2, 1, 1], [1, 2, 3, 4])])
    close(y, [1, 4, 4, 1], [1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16])
  })
  it('x=[1,2,2,1] w=[3,3,1,1] ones, padding 1 crops to 2×2: every output sums all four inputs', () => {
    close(runOp('conv2dTranspose', convT({ padding: [1, 1] }), [iota([1, 2, 2, 1]), f64([3, 3, 1, 1], new Array(9).fill(1))]), [1, 2, 2, 1], [10, 10, 10, 10])
  })
  it('x=[1,1,1,1] w=[1,1,1,1] stride 2, outputPadding 1: output 2×2 extended at the end', () => {
    close(runOp('conv2dTranspose', convT({ strides: [2, 2], outputPadding: [1, 1] }), [f64([1, 1, 1, 1], [2]), f64([1, 1, 1, 1], [3])]), [1, 2, 2, 1], [6, 0, 0, 0])
  })
  it('x=[1,1,1,2] w=[1,1,2,2] (kh,kw,cout,cin) layout, bias: [21+1, 43+2]', () => {
    // w[co,ci] = [[1,2],[3,4]]: co0 = 1·1 + 10·2, co1 = 1·3 + 10·4 (a (cin,cout) reading would give 31, 42).
    const y = runOp('conv2dTranspose', convT(), [f64([1, 1, 1, 2], [1, 10]), f64([1, 1, 2, 2], [1, 2, 3, 4]), f64([2], [1, 2])])
    close(y, [1, 1, 1, 2], [22, 45])
  })
})

describe('reference normalisations', () => {
  it('batchNorm inference x=[1,1,2,2]: (x − running mean)/sqrt(running var + eps)·gamma + beta', () => {
    const p = { eps: 0, momentum: 0.1, training: false }
    const y = runOp('batchNorm', p, [f64([1, 1, 2, 2], [1, 2, 3, 4]), f64([2], [2, 1]), f64([2], [0, 1]), f64([2], [1, 2]), f64([2], [4, 0.25])])
    close(y, [1, 1, 2, 2], [0, 1, 2, 5])
  })
  it('batchNorm inference x=[1,1,1,1] eps inside the sqrt: var 0, eps 4 → (x − mean)/2', () => {
    const y = runOp('batchNorm', { eps: 4, momentum: 0.1, training: false }, [f64([1, 1, 1, 1], [7]), f64([1], [1]), f64([1], [0]), f64([1], [1]), f64([1], [0])])
    close(y, [1, 1, 1, 1], [3])
  })
  it('batchNorm training x=[2,1,1,1] = [1,3]: biased variance 1 → [−1, 1] (unbiased would give ±0.71)', () => {
    const y = runOp('batchNorm', { eps: 0, momentum: 0.1, training: true }, [f64([2, 1, 1, 1], [1, 3]), f64([1], [1]), f64([1], [0]), f64([1], [100]), f64([1], [100])])
    close(y, [2, 1, 1, 1], [-1, 1])
  })
  it('layerNorm x=[1,4] = [1,2,3,4], eps 0.75: var 1.25 + 0.75 = 2 → (x − 2.5)/√2', () => {
    const y = runOp('layerNorm', { eps: 0.75 }, [iota([1, 4]), f64([4], [1, 1, 1, 1]), f64([4], [0, 0, 0, 0])])
    close(y, [1, 4], [-1.5, -0.5, 0.5, 1.5].map((v) => v / Math.SQRT2))
  })
  it('layerNorm x=[1,1,2,2] per position, gamma [2,1] beta [0,5]: [−2,6, −2,6]', () => {
    const y = runOp('layerNorm', { eps: 0 }, [f64([1, 1, 2, 2], [0, 2, 10, 20]), f64([2], [2, 1]), f64([2], [0, 5])])
    close(y, [1, 1, 2, 2], [-2, 6, -2, 6])
  })
  it('groupNorm x=[1,1,2,4] 2 groups: statistics over (2 channels × 2 positions)', () => {
    // Group 0 holds {1,2,3,4} (mean 2.5, var 1.25), group 1 holds {10,20,30,40} (mean 25, var 125).
    const y = runOp('groupNorm', { groups: 2, eps: 0 }, [f64([1, 1, 2, 4], [1, 2, 10, 20, 3, 4, 30, 40]), f64([4], [1, 1, 1, 1]), f64([4], [0, 0, 0, 0])])
    close(y, [1, 1, 2, 4], [-1.5, -0.5, -1.5, -0.5, 0.5, 1.5, 0.5, 1.5].map((v) => v / Math.sqrt(1.25)))
  })
  it('grn x=[1,1,2,2]: Gx = [5,1], Nx = Gx/3, y = gamma·x·Nx + beta + x', () => {
    const y = runOp('grn', { eps: 0 }, [f64([1, 1, 2, 2], [3, 0, 4, 1]), f64([2], [1, 2]), f64([2], [10, 20])])
    close(y, [1, 1, 2, 2], [18, 20, 62 / 3, 65 / 3])
  })
})

describe('reference linear, activations, binary ops', () => {
  it('linear x=[2,2] w=[2,3] bias: [[1,2,13],[3,4,17]]; same on NHWC x=[1,1,2,2]', () => {
    const w = f64([2, 3], [1, 0, 1, 0, 1, 1])
    const b = f64([3], [0, 0, 10])
    close(runOp('linear', {}, [iota([2, 2]), w, b]), [2, 3], [1, 2, 13, 3, 4, 17])
    close(runOp('linear', {}, [iota([1, 1, 2, 2]), w]), [1, 1, 2, 3], [1, 2, 3, 3, 4, 7])
  })
  it('relu, relu6, sigmoid, silu at hand-picked points (sigmoid stays finite at ±800)', () => {
    close(runOp('relu', {}, [f64([4], [-1, 0, 2, -0.5])]), [4], [0, 0, 2, 0])
    close(runOp('relu6', {}, [f64([4], [-1, 3, 7, 6])]), [4], [0, 3, 6, 6])
    close(runOp('sigmoid', {}, [f64([3], [0, -800, 800])]), [3], [0.5, 0, 1])
    close(runOp('silu', {}, [f64([2], [1, 0])]), [2], [0.7310585786300049, 0])
  })
  it('add x=[1,1,2,3] + y=[3] broadcasts over positions; mul x=[2,1] · y=[1,3] is the outer product', () => {
    close(runOp('add', {}, [iota([1, 1, 2, 3]), f64([3], [10, 20, 30])]), [1, 1, 2, 3], [11, 22, 33, 14, 25, 36])
    close(runOp('mul', {}, [f64([2, 1], [1, 2]), f64([1, 3], [10, 20, 30])]), [2, 3], [10, 20, 30, 20, 40, 60])
  })
})

describe('reference pooling and layout', () => {
  const pool = { window: [2, 2] as const, strides: [1, 1] as const, padding: [[0, 0], [0, 0]] as const }
  it('maxPool x=[1,3,3,1] window 2 stride 1: [5,6,8,9]', () => close(runOp('maxPool', pool, [iota([1, 3, 3, 1])]), [1, 2, 2, 1], [5, 6, 8, 9]))
  it('maxPool x=[1,1,1,1] = −5 window 3 padding 1: padding is −∞, so −5 (not 0)', () => {
    close(runOp('maxPool', { window: [3, 3], strides: [1, 1], padding: [[1, 1], [1, 1]] }, [f64([1, 1, 1, 1], [-5])]), [1, 1, 1, 1], [-5])
  })
  it('avgPool x=[1,2,2,1] window 2 stride 2 padding 1: countIncludePad divides by 4, otherwise by 1', () => {
    const p = { window: [2, 2] as const, strides: [2, 2] as const, padding: [[1, 1], [1, 1]] as const }
    close(runOp('avgPool', { ...p, countIncludePad: true }, [iota([1, 2, 2, 1])]), [1, 2, 2, 1], [0.25, 0.5, 0.75, 1])
    close(runOp('avgPool', { ...p, countIncludePad: false }, [iota([1, 2, 2, 1])]), [1, 2, 2, 1], [1, 2, 3, 4])
  })
  it('globalAvgPool x=[2,2,2,2] → (2,2) per-sample channel means', () => {
    const x = f64([2, 2, 2, 2], [1, 10, 2, 20, 3, 30, 4, 40, 0, 0, 0, 0, 0, 0, 8, -8])
    close(runOp('globalAvgPool', {}, [x]), [2, 2], [2.5, 25, 2, -2])
  })
  it('concat x=[1,1,2,1] y=[1,1,2,2] axis −1, and axis 2', () => {
    close(runOp('concat', { axis: -1 }, [f64([1, 1, 2, 1], [1, 2]), f64([1, 1, 2, 2], [3, 4, 5, 6])]), [1, 1, 2, 3], [1, 3, 4, 2, 5, 6])
    close(runOp('concat', { axis: 2 }, [f64([1, 1, 1, 2], [1, 2]), f64([1, 1, 2, 2], [3, 4, 5, 6])]), [1, 1, 3, 2], [1, 2, 3, 4, 5, 6])
  })
  it('reshape x=[2,2,3] to [−1] → [2,6]; transpose x=[1,2,3] perm [0,2,1] → [1,3,2]', () => {
    close(runOp('reshape', { shape: [-1] }, [iota([2, 2, 3], 0)]), [2, 6], Array.from({ length: 12 }, (_, i) => i))
    close(runOp('transpose', { perm: [0, 2, 1] }, [iota([1, 2, 3], 0)]), [1, 3, 2], [0, 3, 1, 4, 2, 5])
  })
  it('transpose NHWC x=[1,2,2,2] → NCHW perm [0,3,1,2]', () => {
    close(runOp('transpose', { perm: [0, 3, 1, 2] }, [iota([1, 2, 2, 2], 0)]), [1, 2, 2, 2], [0, 2, 4, 6, 1, 3, 5, 7])
  })
  it('dropPath x=[2,1,1,2] at inference (rate 0.5) is the identity', () => {
    close(runOp('dropPath', { rate: 0.5, training: false }, [f64([2, 1, 1, 2], [1, -2, 3, -4])]), [2, 1, 1, 2], [1, -2, 3, -4])
  })
})

describe('reference erf and GELU', () => {
  // 40-digit values from mpmath 1.3 (mp.dps = 40); 1e-13 absolute is the accuracy the oracle promises.
  const table: ReadonlyArray<readonly [number, number, number]> = [
    [-3.5, -0.99999925690162765859, 1.9999992569016276586],
    [-2, -0.99532226501895273416, 1.9953222650189527342],
    [-0.5, -0.52049987781304653768, 1.5204998778130465377],
    [0.1, 0.1124629160182848922, 0.8875370839817151078],
    [1, 0.84270079294971486934, 0.15729920705028513066],
    [1.5, 0.96610514647531072707, 0.033894853524689272933],
    [2.9, 0.99995890212190054116, 0.000041097878099458835684],
    [3, 0.99997790950300141456, 0.000022090496998585441373],
    [4, 0.99999998458274209972, 1.5417257900280018852e-8],
    [5.5, 0.99999999999999264215, 7.3578479179743980631e-15],
  ]
  it.each(table)('erf(%d) to 1e-13, erfc to 1e-13 relative in the tail', (x, e, c) => {
    expect(Math.abs(erf(x) - e)).toBeLessThanOrEqual(1e-13)
    // Relative 1e-13 for x ≥ 3 (continued fraction); below, erfc = 1 − erf is only absolutely accurate.
    expect(Math.abs(erfc(x) - c)).toBeLessThanOrEqual(x >= 3 ? 1e-13 * c : 1e-13)
  })
  it('erf(0) = 0, erf(±∞) = ±1, erf(NaN) is NaN', () => {
    expect([erf(0), erf(Infinity), erf(-Infinity), erf(40)]).toEqual([0, 1, -1, 1])
    expect(Number.isNaN(erf(NaN))).toBe(true)
  })
  it('gelu(1) = 0.8413447460685429, gelu(−1), gelu(3), and the left tail gelu(−10) ≈ −7.62e−23 (relative 1e-12)', () => {
    expect(Math.abs(geluExact(1) - 0.8413447460685429)).toBeLessThanOrEqual(1e-15)
    expect(Math.abs(geluExact(-1) - -0.15865525393145705141)).toBeLessThanOrEqual(1e-15)
    expect(Math.abs(geluExact(3) - 2.9959503059051097164)).toBeLessThanOrEqual(1e-14)
    expect(Math.abs(geluExact(-10) / -7.6198530241605260647e-23 - 1)).toBeLessThanOrEqual(1e-12)
    close(runOp('gelu', {}, [f64([3], [1, 0, -1])]), [3], [0.8413447460685429, 0, -0.15865525393145705141], 1e-15)
  })
})

describe('reference backend', () => {
  const build = (training = false) => {
    const b = new GraphBuilder({ training })
    const x = b.input('x', [null, 2])
    return b.build([['y', pipe(x, L.linear('fc', 3), L.relu, L.dropPath(0.2))]])
  }
  const graph = () => {
    const g = build()
    if (E.isLeft(g)) throw new Error(formatError(g.left))
    return g.right
  }
  it('compiles and runs linear → relu on x=[2,2] in float64, returning float32 outputs', async () => {
    const g = graph()
    const params = new Map([['fc.weight', hostTensor([2, 3], [1, -1, 0.5, 2, 1, -1])], ['fc.bias', hostTensor([3], [0, 0, 0.25])]])
    const exe = referenceBackend.compile(g, { inputShapes: { x: [2, 2] }, params })
    if (E.isLeft(exe)) throw new Error(formatError(exe.left))
    const out = (await exe.right.run(new Map([['x', hostTensor([2, 2], [1, 1, 2, -1])]]))).get('y')
    expect(out?.data).toBeInstanceOf(Float32Array)
    // Row 1: [1+2, −1+1, 0.5−1+0.25] → relu; row 2: [2−2, −2−1, 1+1+0.25] → relu.
    expect(out && Array.from(out.data)).toEqual([3, 0, 0, 0, 0, 2.25])
    expect(referenceBackend.describe()).toEqual({ backend: 'reference', precision: 'float64' })
    expect(E.isRight(await referenceBackend.init())).toBe(true)
  })
  it('a missing param is a CompileError naming it', () => {
    const g = graph()
    const r = referenceBackend.compile(g, { inputShapes: { x: [1, 2] }, params: new Map([['fc.bias', hostTensor([3])]]) })
    expect(E.isLeft(r) && formatError(r.left)).toMatch(/'fc\.weight'/)
  })
  it('a param of the wrong shape is a CompileError naming it and both shapes', () => {
    const g = graph()
    const params = new Map([...initParams(g), ['fc.weight', hostTensor([3, 2])]])
    const r = referenceBackend.compile(g, { inputShapes: { x: [1, 2] }, params })
    expect(E.isLeft(r) && r.left._tag).toBe('ShapeMismatch')
    expect(E.isLeft(r) && formatError(r.left)).toMatch(/'fc\.weight'.*\[2,3\].*\[3,2\]/)
  })
  it('a random dropPath (training, rate 0.2) is Unsupported, naming the node', () => {
    const g = build(true)
    if (E.isLeft(g)) throw new Error(formatError(g.left))
    const r = referenceBackend.compile(g.right, { inputShapes: { x: [1, 2] }, params: initParams(g.right) })
    expect(E.isLeft(r) && r.left._tag).toBe('Unsupported')
    expect(E.isLeft(r) && formatError(r.left)).toMatch(/\(dropPath\).*reference/)
  })
  it('unknown input sizes and a missing input at run time are reported', async () => {
    const g = graph()
    expect(E.isLeft(referenceBackend.compile(g, { inputShapes: {}, params: initParams(g) }))).toBe(true)
    const exe = referenceBackend.compile(g, { inputShapes: { x: [1, 2] }, params: initParams(g) })
    if (E.isLeft(exe)) throw new Error(formatError(exe.left))
    await expect(exe.right.run(new Map())).rejects.toThrow(/'x'/)
  })
})
