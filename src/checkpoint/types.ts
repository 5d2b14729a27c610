// Value types shared by the checkpoint readers and writers: the element types a checkpoint may hold,
// host tensors decoded from them (row-major, PyTorch shapes: NCHW/OIHW — no layout conversion here),
// the plain data a checkpoint's non-tensor entries are converted to, and the loaded Checkpoint itself.

/** Element types understood by the readers (safetensors spelling). */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL'

/** Every supported element type. */
export const DTYPES: ReadonlyArray<DType> = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL']

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: { readonly [K in DType]: number } = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
}

/**
 * Host array per dtype. F32/F16/BF16 decode exactly to Float32Array (half types are subsets of float32);
 * F64 stays Float64Array (lossless; use `toFloat32` if needed); I64 is a BigInt64Array (exact, e.g. BN
 * `num_batches_tracked`); BOOL is a Uint8Array of 0/1.
 */
export interface ArrayOf {
  readonly F64: Float64Array
  readonly F32: Float32Array
  readonly F16: Float32Array
  readonly BF16: Float32Array
  readonly I64: BigInt64Array
  readonly I32: Int32Array
  readonly I16: Int16Array
  readonly I8: Int8Array
  readonly U8: Uint8Array
  readonly BOOL: Uint8Array
}

/** A decoded tensor of one dtype: row-major data with PyTorch's shape ([] for a 0-d scalar). */
export type TensorOf<K extends DType> = { readonly dtype: K; readonly shape: ReadonlyArray<number>; readonly data: ArrayOf[K] }

/** A decoded tensor (discriminated by dtype). */
export type TensorData = { readonly [K in DType]: TensorOf<K> }[DType]

/**
 * A non-tensor checkpoint value as plain data: Python None/bool/int/float/str/bytes, lists and tuples as
 * arrays, dicts as Maps with string keys (int keys are written in decimal), tensors as TensorData.
 * Python ints beyond 2^53 are bigint.
 */
export type PyData =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | TensorData
  | ReadonlyArray<PyData>
  | ReadonlyMap<string, PyData>

/** Container format a checkpoint was read from. */
export type CheckpointFormat = 'safetensors' | 'pth-zip' | 'pth-legacy'

/** A loaded checkpoint: a flat state dict plus the side entries, separated. */
export interface Checkpoint {
  readonly format: CheckpointFormat
  /** Flat state dict in file order (PyTorch keys; wrapper prefix such as `module` removed). */
  readonly tensors: ReadonlyMap<string, TensorData>
  /** Key of the wrapper entry the state dict came from (`module`, `model`, `state_dict`, `state`), or null if bare. */
  readonly wrapper: string | null
  /** Top-level side entries (`arch`, `args`, `epoch`, `optimizer`, `is_pretrain`, ...) or safetensors `__metadata__`. */
  readonly metadata: ReadonlyMap<string, PyData>
  /** Non-tensor entries found inside the state dict itself (SparK's `config`), set aside. */
  readonly extras: ReadonlyMap<string, PyData>
}

/** Number of elements of a shape (1 for a 0-d scalar). */
export const numelOf = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/** True for a TensorData (as opposed to other PyData). */
export const isTensorData = (v: PyData): v is TensorData =>
  v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Map) && !Array.isArray(v) && 'dtype' in v

/** A float copy of any tensor (I64 via Number, exact below 2^53). */
export const toFloat32 = (t: TensorData): Float32Array => {
  if (t.data instanceof Float32Array) return t.data
  const out = new Float32Array(t.data.length)
  for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i])
  return out
}
