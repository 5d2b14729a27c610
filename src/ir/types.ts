// Value-level types of the IR. Tensors are NHWC inside (tfjs's layout); converters own NCHW/OIHW.
// A dimension may be `null` while a graph is shape-polymorphic (batch, spatial size); `inferTypes`
// with concrete input shapes resolves every dimension before a backend compiles the graph.

/** Element type; everything numeric in sparkts is float32 today. */
export type DType = 'float32'

/** One dimension: a size, or null when not yet known (resolved at compile time). */
export type Dim = number | null

/** A shape; rank-4 activations are NHWC, rank-2 are (batch, features). */
export type Shape = ReadonlyArray<Dim>

/** A concrete shape: every dimension known. */
export type ConcreteShape = ReadonlyArray<number>

/** The static type of a graph value. */
export interface TensorType {
  readonly dtype: DType
  readonly shape: Shape
}

/** A tensor on the host: row-major float32 data and a concrete shape. */
export interface HostTensor {
  readonly shape: ConcreteShape
  readonly data: Float32Array
}

/** Builds a float32 tensor type. */
export const f32 = (shape: Shape): TensorType => ({ dtype: 'float32', shape })

/** Number of elements of a concrete shape. */
export const sizeOf = (shape: ConcreteShape): number => shape.reduce((a, b) => a * b, 1)

/** True when every dimension is known. */
export const isConcrete = (shape: Shape): shape is ConcreteShape => shape.every((d) => d !== null)

/** Formats a shape as `[1,56,56,?]`. */
export const showShape = (shape: Shape): string => `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`

/** Creates a host tensor, checking that the data length matches the shape. */
export const hostTensor = (shape: ConcreteShape, data?: Float32Array | ReadonlyArray<number>): HostTensor => {
  const n = sizeOf(shape)
  const buf = data === undefined ? new Float32Array(n) : data instanceof Float32Array ? data : Float32Array.from(data)
  if (buf.length !== n) throw new RangeError(`hostTensor: shape ${showShape(shape)} needs ${n} values, got ${buf.length}`)
  return { shape: [...shape], data: buf }
}
