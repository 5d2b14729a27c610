// The values a restricted unpickle produces: Python primitives map to JS primitives (None → null, int →
// number or bigint beyond 2^53, float → number, str → string); containers, bytes, allowlisted globals,
// storages and tensors are tagged objects. Containers are mutable because pickle fills them after creation.

import type { DType, TensorData } from './types.js'

/** Python bytes/bytearray. */
export interface PyBytes { readonly _py: 'bytes'; readonly data: Uint8Array }
/** Python list (filled by APPEND/APPENDS). */
export interface PyList { readonly _py: 'list'; readonly items: PyValue[] }
/** Python tuple. */
export interface PyTuple { readonly _py: 'tuple'; readonly items: ReadonlyArray<PyValue> }
/** Python dict or OrderedDict; `attrs` holds instance state set by BUILD (e.g. a state_dict's `_metadata`). */
export interface PyDict { readonly _py: 'dict'; readonly ordered: boolean; readonly map: Map<PyKey, PyValue>; attrs: PyValue | undefined }
/** An allowlisted global (a class or function reference; never a live JS function). */
export interface PyGlobal { readonly _py: 'global'; readonly module: string; readonly name: string }
/** A typed PyTorch storage named by a persistent id; its bytes are attached by the format reader. */
export interface PyStorage { readonly _py: 'storage'; readonly key: string; readonly dtype: DType; readonly numel: number; readonly location: string }
/** A tensor view of a storage; `value` is filled in once the storage bytes are known. */
export interface PyTensor {
  readonly _py: 'tensor'
  readonly storage: PyStorage
  readonly offset: number
  readonly size: ReadonlyArray<number>
  readonly stride: ReadonlyArray<number>
  value: TensorData | undefined
}

/** Hashable Python values usable as dict keys here. */
export type PyKey = null | boolean | number | bigint | string

/** Any unpickled value. */
export type PyValue = PyKey | PyBytes | PyList | PyTuple | PyDict | PyGlobal | PyStorage | PyTensor

/** Tag of a value, for messages. */
export const pyTypeOf = (v: PyValue): string =>
  v === null ? 'None' : typeof v === 'object' ? (v._py === 'global' ? `${v.module}.${v.name}` : v._py) : typeof v

/** True for a dict key. */
export const isPyKey = (v: PyValue): v is PyKey => v === null || typeof v !== 'object'

/** A new empty dict. */
export const newDict = (ordered: boolean): PyDict => ({ _py: 'dict', ordered, map: new Map(), attrs: undefined })

/** A tuple. */
export const tuple = (items: ReadonlyArray<PyValue>): PyTuple => ({ _py: 'tuple', items })

/** A non-negative safe integer (pickle ints may be bigint). */
export const asCount = (v: PyValue): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined
