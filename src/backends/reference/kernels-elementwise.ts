// Reference elementwise kernels: activations (exact GELU through the derived erf, numerically stable
// sigmoid), binary ops with numpy broadcasting (shapes right-aligned; a size-1 or missing axis repeats),
// and dropPath, which is the identity whenever it is deterministic (inference, or rate 0).

import { geluExact } from './erf.js'
import { f64, get, stridesOf, unravel } from './tensor.js'
import type { F64Tensor } from './tensor.js'
import type { RefKernel } from './kernels-types.js'
import { input } from './kernels-types.js'

/** Logistic sigmoid, never evaluating exp of a large positive number. */
export const sigmoidScalar = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))

const unary = (op: string, f: (x: number) => number): RefKernel<'relu' | 'relu6' | 'gelu' | 'silu' | 'sigmoid'> => (_n, ins, outType) => {
  const x = input(ins, 0, op)
  const out = f64(outType)
  for (let e = 0; e < x.data.length; e++) out.data[e] = f(get(x.data, e))
  return out
}

/** relu(x) = max(x, 0) (NaN stays NaN). */
export const relu = unary('relu', (x) => (x > 0 || Number.isNaN(x) ? x : 0))
/** relu6(x) = min(max(x, 0), 6). */
export const relu6 = unary('relu6', (x) => (Number.isNaN(x) ? x : Math.min(Math.max(x, 0), 6)))
/** Exact GELU x·Φ(x). */
export const gelu = unary('gelu', geluExact)
/** silu(x) = x·sigmoid(x). */
export const silu = unary('silu', (x) => x * sigmoidScalar(x))
/** sigmoid(x) = 1/(1+e^{−x}). */
export const sigmoid = unary('sigmoid', sigmoidScalar)

/** Applies f elementwise with numpy broadcasting of a and b to the output shape. */
const broadcastBinary = (a: F64Tensor, b: F64Tensor, outType: ReadonlyArray<number>, f: (u: number, v: number) => number): F64Tensor => {
  const r = outType.length
  // Stride of each output axis in an operand: 0 where the operand is missing that axis or has size 1.
  const bStrides = (t: F64Tensor): number[] => {
    const s = stridesOf(t.shape)
    return outType.map((_, i) => {
      const k = i - (r - t.shape.length)
      return k < 0 || t.shape[k] === 1 ? 0 : (s[k] ?? 0)
    })
  }
  const [sa, sb] = [bStrides(a), bStrides(b)]
  const out = f64(outType)
  for (let e = 0; e < out.data.length; e++) {
    const idx = unravel(e, outType)
    let ia = 0
    let ib = 0
    idx.forEach((v, i) => {
      ia += v * (sa[i] ?? 0)
      ib += v * (sb[i] ?? 0)
    })
    out.data[e] = f(get(a.data, ia), get(b.data, ib))
  }
  return out
}

/** add: a + b with numpy broadcasting. */
export const add: RefKernel<'add'> = (_n, ins, outType) => broadcastBinary(input(ins, 0, 'add'), input(ins, 1, 'add'), outType, (u, v) => u + v)

/** mul: a · b with numpy broadcasting. */
export const mul: RefKernel<'mul'> = (_n, ins, outType) => broadcastBinary(input(ins, 0, 'mul'), input(ins, 1, 'mul'), outType, (u, v) => u * v)

/** True when dropPath is random (training with a positive rate): the reference refuses such graphs. */
export const dropPathIsRandom = (p: { readonly rate: number; readonly training: boolean }): boolean => p.training && p.rate > 0

/** dropPath: the identity at inference or rate 0; a random drop cannot be reproduced, so it is an error
 *  here (compile rejects such graphs with an Unsupported CompileError before any run). */
export const dropPath: RefKernel<'dropPath'> = (n, ins, outType) => {
  if (dropPathIsRandom(n.params)) throw new Error(`reference dropPath %${n.id}: random in training mode (rate ${n.params.rate})`)
  return f64(outType, input(ins, 0, 'dropPath').data)
}
