// PyTorch `.pth` readers (torch/serialization.py). Zip format (torch ≥ 1.6): records `<archive>/data.pkl`
// (the pickled object; tensors refer to storages by persistent id), `<archive>/data/<key>` (raw
// little-endian storage bytes), `<archive>/version`, optionally `<archive>/byteorder`; <archive> is the
// first record's directory. Legacy format: five back-to-back protocol-2 pickles/blocks — magic number
// 0x1950a86a20f9469cfc6c, protocol version 1001, sys_info {little_endian, type_sizes, ...}, the object,
// the list of storage keys — followed, for each key in that order, by an int64 element count and the
// storage's raw bytes. Both were checked against real files written by torch 1.13.

import * as E from 'fp-ts/lib/Either.js'
import type { CheckpointError } from './errors.js'
import { truncated } from './errors.js'
import { materialiseAll } from './materialise.js'
import type { PickleHooks } from './pickle.js'
import { unpickle } from './pickle.js'
import type { PyValue } from './py-values.js'
import { newTorchContext, torchHooks } from './torch-globals.js'
import { DTYPE_SIZE } from './types.js'
import { readEntry, scanZip } from './zip.js'

/** Default budget for materialised tensor bytes: twice the file plus 1 MiB (state-dict views rarely exceed their storage). */
export const defaultTensorBudget = (fileBytes: number): number => 2 * fileBytes + 2 ** 20

/** Legacy torch.save magic number. */
export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn

const noGlobals: PickleHooks = {
  findGlobal: (module, name) => E.left({ _tag: 'ForbiddenGlobal', module, name }),
  reduce: () => E.left('REDUCE not allowed in a header pickle'),
  newobj: () => E.left('NEWOBJ not allowed in a header pickle'),
  build: () => E.left('BUILD not allowed in a header pickle'),
  persistentLoad: () => E.left('persistent id not allowed in a header pickle'),
}

const text = (b: Uint8Array): string => new TextDecoder('latin1').decode(b).trim()

/** Reads a zip-format `.pth` into its unpickled object with every tensor materialised. */
export const readPthZip = (bytes: Uint8Array, budget = defaultTensorBudget(bytes.length)): E.Either<CheckpointError, PyValue> => {
  const scanned = scanZip(bytes)
  if (E.isLeft(scanned)) return scanned
  const entries = scanned.right
  const first = entries.keys().next().value
  const slash = first === undefined ? -1 : first.indexOf('/')
  if (first === undefined || slash < 0) return E.left({ _tag: 'CorruptZip', message: 'not a PyTorch archive (no <archive>/ directory)' })
  const prefix = first.slice(0, slash + 1)
  const record = (name: string): E.Either<CheckpointError, Uint8Array> => {
    const e = entries.get(prefix + name)
    return e === undefined ? E.left({ _tag: 'MissingRecord', name: prefix + name }) : readEntry(bytes, e)
  }
  if (entries.has(`${prefix}byteorder`)) {
    const bo = record('byteorder')
    if (E.isLeft(bo)) return bo
    if (text(bo.right) !== 'little') return E.left({ _tag: 'Unsupported', message: `byteorder '${text(bo.right)}'` })
  }
  const pkl = record('data.pkl')
  if (E.isLeft(pkl)) return pkl
  const ctx = newTorchContext(budget)
  const obj = unpickle(pkl.right, 0, torchHooks(ctx))
  if (E.isLeft(obj)) return obj
  const filled = materialiseAll(ctx.tensors, (s) => record(`data/${s.key}`))
  return E.isLeft(filled) ? filled : E.right(obj.right.value)
}

const isTrueLittleEndian = (v: PyValue): boolean =>
  v !== null && typeof v === 'object' && v._py === 'dict' && v.map.get('little_endian') === true

/** Reads a legacy (non-zip) `.pth` into its unpickled object with every tensor materialised. */
export const readPthLegacy = (bytes: Uint8Array, budget = defaultTensorBudget(bytes.length)): E.Either<CheckpointError, PyValue> => {
  const magic = unpickle(bytes, 0, noGlobals)
  if (E.isLeft(magic)) return magic
  if (magic.right.value !== LEGACY_MAGIC) return E.left({ _tag: 'UnknownFormat', detail: 'pickle is not a torch.save legacy file (wrong magic number)' })
  const proto = unpickle(bytes, magic.right.end, noGlobals)
  if (E.isLeft(proto)) return proto
  if (proto.right.value !== 1001) return E.left({ _tag: 'Unsupported', message: `legacy protocol version ${String(proto.right.value)}` })
  const sys = unpickle(bytes, proto.right.end, noGlobals)
  if (E.isLeft(sys)) return sys
  if (!isTrueLittleEndian(sys.right.value)) return E.left({ _tag: 'Unsupported', message: 'legacy file written on a big-endian machine' })
  const ctx = newTorchContext(budget)
  const obj = unpickle(bytes, sys.right.end, torchHooks(ctx))
  if (E.isLeft(obj)) return obj
  const keysR = unpickle(bytes, obj.right.end, noGlobals)
  if (E.isLeft(keysR)) return keysR
  const keys = keysR.right.value
  if (keys === null || typeof keys !== 'object' || keys._py !== 'list' || !keys.items.every((k) => typeof k === 'string')) {
    return E.left({ _tag: 'BadPickle', offset: obj.right.end, opcode: 'storage keys', message: 'expected a list of storage keys' })
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const found = new Map<string, Uint8Array>()
  let pos = keysR.right.end
  for (const key of keys.items as string[]) {
    const s = ctx.storages.get(key)
    if (s === undefined) return E.left({ _tag: 'BadStorage', key, message: 'listed but never referenced' })
    if (found.has(key)) return E.left({ _tag: 'BadStorage', key, message: 'listed twice' })
    if (bytes.length - pos < 8) return E.left(truncated(`storage '${key}' element count`, 8, bytes.length - pos))
    const count = dv.getBigInt64(pos, true)
    if (count !== BigInt(s.numel)) return E.left({ _tag: 'BadStorage', key, message: `file says ${count} elements, pickle says ${s.numel}` })
    const n = s.numel * DTYPE_SIZE[s.dtype]
    if (bytes.length - pos - 8 < n) return E.left(truncated(`storage '${key}'`, n, bytes.length - pos - 8))
    found.set(key, bytes.subarray(pos + 8, pos + 8 + n))
    pos += 8 + n
  }
  const filled = materialiseAll(ctx.tensors, (s) => {
    const b = found.get(s.key)
    return b === undefined ? E.left({ _tag: 'BadStorage', key: s.key, message: 'referenced but not in the file' }) : E.right(b)
  })
  return E.isLeft(filled) ? filled : E.right(obj.right.value)
}
