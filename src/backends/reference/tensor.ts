// Float64 tensors of the reference interpreter: row-major data and a concrete shape. The oracle keeps
// storage and accumulation in float64 so that its own rounding (~1e-16 relative) is far below the float32
// tolerances other backends are checked with. Only index arithmetic lives here; no maths.

import type { ConcreteShape, HostTensor } from '../../ir/types.js'
import { showShape, sizeOf } from '../../ir/types.js'

/** A float64 tensor on the host. */
export interface F64Tensor {
  readonly shape: ReadonlyArray<number>
  readonly data: Float64Array
}

/** Makes a float64 tensor (zeros when no data is given); throws a RangeError on a length mismatch. */
export const f64 = (shape: ConcreteShape, data?: ArrayLike<number>): F64Tensor => {
  const n = sizeOf(shape)
  const buf = data === undefined ? new Float64Array(n) : Float64Array.from(data)
  if (buf.length !== n) throw new RangeError(`f64: shape ${showShape(shape)} needs ${n} values, got ${buf.length}`)
  return { shape: [...shape], data: buf }
}

/** Widens a float32 host tensor to float64 (exact). */
export const fromHost = (t: HostTensor): F64Tensor => ({ shape: [...t.shape], data: Float64Array.from(t.data) })

/** Rounds a float64 tensor to a float32 host tensor. */
export const toHost = (t: F64Tensor): HostTensor => ({ shape: [...t.shape], data: Float32Array.from(t.data) })

/** Row-major strides of a shape (in elements). */
export const stridesOf = (shape: ReadonlyArray<number>): number[] => {
  const s = new Array<number>(shape.length).fill(1)
  for (let i = shape.length - 2; i >= 0; i--) s[i] = (s[i + 1] ?? 1) * (shape[i + 1] ?? 1)
  return s
}

/** The multi-index of flat offset `flat` in a row-major shape. */
export const unravel = (flat: number, shape: ReadonlyArray<number>): number[] => {
  const idx = new Array<number>(shape.length).fill(0)
  let r = flat
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i] ?? 1
    idx[i] = r % d
    r = Math.floor(r / d)
  }
  return idx
}

/** Reads element i of a Float64Array (indices are computed in range by the kernels). */
export const get = (a: Float64Array, i: number): number => a[i] ?? Number.NaN

/** Dimension i of a shape (negative counts from the end). */
export const dim = (shape: ReadonlyArray<number>, i: number): number => shape[i < 0 ? shape.length + i : i] ?? 1
