// Turns recorded tensor views (storage + offset + size + stride) into row-major host tensors with
// PyTorch's shape. Views may be non-contiguous (transposed, sliced, expanded) and several may share one
// storage; each view gets its own copy. Layout conversion (NCHW → NHWC etc.) is not done here.

import * as E from 'fp-ts/lib/Either.js'
import { decodeBytes } from './dtype-codec.js'
import type { CheckpointError } from './errors.js'
import type { PyStorage, PyTensor } from './py-values.js'
import type { TensorData } from './types.js'
import { DTYPE_SIZE } from './types.js'
import { workMeter } from './work.js'

/** True when the strides are the row-major contiguous ones (size-1 dims ignored). */
const isContiguous = (size: ReadonlyArray<number>, stride: ReadonlyArray<number>): boolean => {
  let expect = 1
  for (let i = size.length - 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expect) return false
    expect *= size[i] as number
  }
  return true
}

/** Gathers a strided view's elements (each `el` bytes) into a contiguous buffer. */
const gather = (src: Uint8Array, el: number, offset: number, size: ReadonlyArray<number>, stride: ReadonlyArray<number>): Uint8Array => {
  const numel = size.reduce((a, b) => a * b, 1)
  const out = new Uint8Array(numel * el)
  if (numel === 0) return out
  const rank = size.length
  workMeter.steps += numel
  const idx = new Array<number>(rank).fill(0)
  let at = offset
  for (let n = 0; n < numel; n++) {
    out.set(src.subarray(at * el, at * el + el), n * el)
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1
      at += stride[d] as number
      if ((idx[d] as number) < (size[d] as number)) break
      at -= (size[d] as number) * (stride[d] as number)
      idx[d] = 0
    }
  }
  return out
}

/** Materialises one view from its storage's bytes (length already checked = numel × element size). */
export const materialiseView = (t: PyTensor, storageBytes: Uint8Array): TensorData => {
  const el = DTYPE_SIZE[t.storage.dtype]
  const numel = t.size.reduce((a, b) => a * b, 1)
  const bytes = isContiguous(t.size, t.stride)
    ? storageBytes.subarray(t.offset * el, (t.offset + numel) * el)
    : gather(storageBytes, el, t.offset, t.size, t.stride)
  return { dtype: t.storage.dtype, shape: t.size, data: decodeBytes(t.storage.dtype, bytes) } as TensorData
}

/** Fills every recorded view from the storage bytes the format reader provides. */
export const materialiseAll = (
  tensors: ReadonlyArray<PyTensor>,
  bytesOf: (s: PyStorage) => E.Either<CheckpointError, Uint8Array>,
): E.Either<CheckpointError, void> => {
  const cache = new Map<string, Uint8Array>()
  for (const t of tensors) {
    let b = cache.get(t.storage.key)
    if (b === undefined) {
      const r = bytesOf(t.storage)
      if (E.isLeft(r)) return r
      const need = t.storage.numel * DTYPE_SIZE[t.storage.dtype]
      if (r.right.length !== need) return E.left({ _tag: 'BadStorage', key: t.storage.key, message: `has ${r.right.length} bytes, expected ${need}` })
      b = r.right
      cache.set(t.storage.key, b)
    }
    t.value = materialiseView(t, b)
  }
  return E.right(undefined)
}
