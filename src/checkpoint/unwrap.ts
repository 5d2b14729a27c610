// From an unpickled object to a flat state dict. Training scripts wrap the state dict in a dict with side
// entries (SparK: {module, optimizer, args, arch, epoch, input_size, performance_desc, is_pretrain};
// others: model | state_dict | state); the wrapper is unwrapped and the side entries are converted to
// plain data (metadata) so a later command can read e.g. `arch`. Non-tensor entries inside the state dict
// itself (SparK's `config`) are set aside as extras. Conversion is bounded in depth, shares converted
// sub-objects (linear in the pickle even for heavily shared structures) and rejects cycles.

import * as E from 'fp-ts/lib/Either.js'
import type { CheckpointError } from './errors.js'
import type { PyDict, PyKey, PyValue } from './py-values.js'
import { pyTypeOf } from './py-values.js'
import type { PyData, TensorData } from './types.js'

/** Wrapper keys tried in order when the top level holds no tensors. */
export const WRAPPER_KEYS: ReadonlyArray<string> = ['module', 'model', 'state_dict', 'state']

/** Deepest nesting converted to plain data. */
export const MAX_DATA_DEPTH = 64

/** A flat state dict and the entries set aside. */
export interface Unwrapped {
  readonly tensors: ReadonlyMap<string, TensorData>
  readonly wrapper: string | null
  readonly metadata: ReadonlyMap<string, PyData>
  readonly extras: ReadonlyMap<string, PyData>
}

class Stop {
  constructor(readonly error: CheckpointError) {}
}

const keyText = (k: PyKey): string => (k === null ? 'None' : typeof k === 'boolean' ? (k ? 'True' : 'False') : String(k))

/** Converts an unpickled value to plain data (tensors must already be materialised). */
export const toPyData = (root: PyValue): E.Either<CheckpointError, PyData> => {
  const done = new Map<object, PyData>()
  const active = new Set<object>()
  const go = (v: PyValue, depth: number): PyData => {
    if (v === null || typeof v !== 'object') return v
    const hit = done.get(v)
    if (hit !== undefined) return hit
    if (active.has(v)) throw new Stop({ _tag: 'NotAStateDict', message: `cyclic ${v._py} in a side entry` })
    if (depth > MAX_DATA_DEPTH) throw new Stop({ _tag: 'LimitExceeded', what: 'nesting depth of a side entry', limit: MAX_DATA_DEPTH })
    active.add(v)
    let out: PyData
    switch (v._py) {
      case 'bytes': out = v.data; break
      case 'list': case 'tuple': out = v.items.map((x) => go(x, depth + 1)); break
      case 'dict': out = new Map([...v.map].map(([k, x]) => [keyText(k), go(x, depth + 1)] as const)); break
      case 'tensor':
        if (v.value === undefined) throw new Stop({ _tag: 'BadStorage', key: v.storage.key, message: 'tensor was not materialised' })
        out = v.value
        break
      case 'storage': out = `<storage ${v.key}>`; break
      case 'global': out = `${v.module}.${v.name}`; break
    }
    active.delete(v)
    done.set(v, out)
    return out
  }
  try {
    return E.right(go(root, 0))
  } catch (e) {
    if (e instanceof Stop) return E.left(e.error)
    throw e
  }
}

const asDict = (v: PyValue | undefined): PyDict | undefined => (v !== undefined && v !== null && typeof v === 'object' && v._py === 'dict' ? v : undefined)
const hasTensor = (d: PyDict): boolean => [...d.map.values()].some((x) => x !== null && typeof x === 'object' && x._py === 'tensor')

const convertEntries = (entries: Iterable<readonly [PyKey, PyValue]>): E.Either<CheckpointError, Map<string, PyData>> => {
  const out = new Map<string, PyData>()
  for (const [k, v] of entries) {
    const d = toPyData(v)
    if (E.isLeft(d)) return d
    out.set(keyText(k), d.right)
  }
  return E.right(out)
}

/** Unwraps a loaded checkpoint object into a flat state dict, metadata and extras. */
export const unwrapStateDict = (root: PyValue): E.Either<CheckpointError, Unwrapped> => {
  const top = asDict(root)
  if (top === undefined) return E.left({ _tag: 'NotAStateDict', message: `top-level object is ${pyTypeOf(root)}, not a dict` })
  let state = top
  let wrapper: string | null = null
  if (!hasTensor(top)) {
    const key = WRAPPER_KEYS.find((k) => { const d = asDict(top.map.get(k)); return d !== undefined && hasTensor(d) })
    if (key === undefined) return E.left({ _tag: 'NotAStateDict', message: `no tensors at the top level or under ${WRAPPER_KEYS.join('/')}` })
    state = asDict(top.map.get(key)) as PyDict
    wrapper = key
  }
  const tensors = new Map<string, TensorData>()
  const side: Array<readonly [PyKey, PyValue]> = []
  for (const [k, v] of state.map) {
    if (typeof k !== 'string') return E.left({ _tag: 'NotAStateDict', message: `state dict key ${keyText(k)} is not a string` })
    if (v !== null && typeof v === 'object' && v._py === 'tensor') {
      if (v.value === undefined) return E.left({ _tag: 'BadStorage', key: v.storage.key, message: `tensor '${k}' was not materialised` })
      tensors.set(k, v.value)
    } else side.push([k, v])
  }
  const extras = convertEntries(side)
  if (E.isLeft(extras)) return extras
  const metadata = convertEntries(wrapper === null ? [] : [...top.map].filter(([k]) => k !== wrapper))
  if (E.isLeft(metadata)) return metadata
  return E.right({ tensors, wrapper, metadata: metadata.right, extras: extras.right })
}
