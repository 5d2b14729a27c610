// safetensors reader and writer (format: huggingface/safetensors docs — an 8-byte little-endian u64 header
// length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {str: str}}, then the raw little-endian data; offsets are relative to the end of the header). Reading
// validates like the reference implementation: bounded header, JSON object, known dtypes, offsets inside
// the data section, tensors contiguous and non-overlapping and covering it exactly, byte size =
// numel × dtype size. Writing is deterministic: sorted names, data in that order, header space-padded so
// the data section starts 8-byte aligned. Hand-written: the npm packages for it are thin or unmaintained and
// the format is small.

import * as E from 'fp-ts/lib/Either.js'
import type { CheckpointError } from './errors.js'
import { badTensor, truncated } from './errors.js'
import { decodeBytes, encodeTensor } from './dtype-codec.js'
import type { DType, TensorData } from './types.js'
import { DTYPES, DTYPE_SIZE } from './types.js'

/** Largest accepted header (same bound as the reference implementation). */
export const MAX_SAFETENSORS_HEADER = 100_000_000

/** Contents of a safetensors file: tensors in data-offset order (ties by name) and the `__metadata__` map. */
export interface SafetensorsContent {
  readonly tensors: ReadonlyMap<string, TensorData>
  readonly metadata: Readonly<Record<string, string>>
}

interface Entry { readonly name: string; readonly dtype: DType; readonly shape: ReadonlyArray<number>; readonly begin: number; readonly end: number }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isDType = (v: unknown): v is DType => typeof v === 'string' && (DTYPES as ReadonlyArray<string>).includes(v)

/** numel of a shape, or undefined when it is not a safe integer. */
const safeNumel = (shape: ReadonlyArray<number>): number | undefined => {
  let n = 1
  for (const d of shape) {
    n *= d
    if (!Number.isSafeInteger(n)) return undefined
  }
  return n
}

const parseEntry = (name: string, v: unknown, dataLen: number): E.Either<CheckpointError, Entry> => {
  if (!isObject(v)) return E.left(badTensor(name, 'header entry is not an object'))
  const { dtype, shape, data_offsets: offs } = v
  if (!isDType(dtype)) return E.left(badTensor(name, `unsupported dtype ${JSON.stringify(dtype)}`))
  if (!Array.isArray(shape) || !shape.every(isCount)) return E.left(badTensor(name, `shape ${JSON.stringify(shape)} is not a list of non-negative integers`))
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount)) {
    return E.left(badTensor(name, `data_offsets ${JSON.stringify(offs)} is not [begin, end]`))
  }
  const [begin, end] = offs as [number, number]
  if (begin > end) return E.left(badTensor(name, `data_offsets [${begin}, ${end}] has begin > end`))
  if (end > dataLen) return E.left(badTensor(name, `data_offsets [${begin}, ${end}] beyond the ${dataLen}-byte data section`))
  const numel = safeNumel(shape as number[])
  const need = numel === undefined ? undefined : numel * DTYPE_SIZE[dtype]
  if (need === undefined || need !== end - begin) {
    return E.left(badTensor(name, `holds ${end - begin} bytes but shape [${shape.join(',')}] × ${dtype} needs ${need ?? 'too many'}`))
  }
  return E.right({ name, dtype, shape: shape as number[], begin, end })
}

const parseHeader = (bytes: Uint8Array): E.Either<CheckpointError, { readonly json: Record<string, unknown>; readonly start: number }> => {
  if (bytes.length < 8) return E.left(truncated('safetensors header length', 8, bytes.length))
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  if (n64 > BigInt(MAX_SAFETENSORS_HEADER)) return E.left({ _tag: 'BadHeader', message: `header length ${n64} exceeds ${MAX_SAFETENSORS_HEADER}` })
  const n = Number(n64)
  if (8 + n > bytes.length) return E.left(truncated('safetensors header', n, bytes.length - 8))
  if (n < 2 || bytes[8] !== 0x7b) return E.left({ _tag: 'BadHeader', message: 'header does not start with "{"' })
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n))
  } catch {
    return E.left({ _tag: 'BadHeader', message: 'header is not valid UTF-8' })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return E.left({ _tag: 'BadHeader', message: `invalid JSON (${e instanceof Error ? e.message : String(e)})` })
  }
  return isObject(json) ? E.right({ json, start: 8 + n }) : E.left({ _tag: 'BadHeader', message: 'header JSON is not an object' })
}

/** Reads and validates a safetensors file. */
export const readSafetensors = (bytes: Uint8Array): E.Either<CheckpointError, SafetensorsContent> => {
  const header = parseHeader(bytes)
  if (E.isLeft(header)) return header
  const { json, start } = header.right
  const dataLen = bytes.length - start
  const metadata: Record<string, string> = {}
  const entries: Entry[] = []
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
        return E.left({ _tag: 'BadHeader', message: '__metadata__ must map strings to strings' })
      }
      Object.assign(metadata, v)
      continue
    }
    const e = parseEntry(name, v, dataLen)
    if (E.isLeft(e)) return e
    entries.push(e.right)
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  let pos = 0
  let prev = '(start of data)'
  for (const e of entries) {
    if (e.begin < pos) return E.left(badTensor(e.name, `data_offsets [${e.begin}, ${e.end}] overlap tensor '${prev}'`))
    if (e.begin > pos) return E.left(badTensor(e.name, `gap of ${e.begin - pos} bytes after '${prev}' (tensors must be contiguous)`))
    pos = e.end
    prev = e.name
  }
  if (pos !== dataLen) return E.left({ _tag: 'BadHeader', message: `tensors cover ${pos} bytes but the data section has ${dataLen}` })
  const tensors = new Map<string, TensorData>()
  for (const e of entries) {
    const data = decodeBytes(e.dtype, bytes.subarray(start + e.begin, start + e.end))
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data } as TensorData)
  }
  return E.right({ tensors, metadata })
}

/** Checks that a tensor's data length matches its shape. */
const checkTensor = (name: string, t: TensorData): E.Either<CheckpointError, TensorData> => {
  if (t.shape.some((d) => !isCount(d))) return E.left(badTensor(name, `shape [${t.shape.join(',')}] is not a list of non-negative integers`))
  const numel = safeNumel(t.shape)
  return numel === t.data.length ? E.right(t) : E.left(badTensor(name, `data has ${t.data.length} elements, shape [${t.shape.join(',')}] needs ${numel ?? 'too many'}`))
}

/** Writes tensors (sorted by name) and optional string metadata as a deterministic safetensors file. */
export const writeSafetensors = (
  tensors: ReadonlyMap<string, TensorData>,
  metadata: Readonly<Record<string, string>> = {},
): E.Either<CheckpointError, Uint8Array> => {
  const names = [...tensors.keys()].sort()
  const parts: string[] = []
  const metaKeys = Object.keys(metadata).sort()
  if (metaKeys.length > 0) parts.push(`"__metadata__":{${metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`)
  const blobs: Uint8Array[] = []
  let offset = 0
  for (const name of names) {
    if (name === '__metadata__') return E.left(badTensor(name, 'reserved name'))
    const t = checkTensor(name, tensors.get(name) as TensorData)
    if (E.isLeft(t)) return t
    const blob = encodeTensor(t.right)
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.right.dtype}","shape":[${t.right.shape.join(',')}],"data_offsets":[${offset},${offset + blob.length}]}`)
    blobs.push(blob)
    offset += blob.length
  }
  const raw = new TextEncoder().encode(`{${parts.join(',')}}`)
  const n = Math.ceil(raw.length / 8) * 8
  const out = new Uint8Array(8 + n + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true)
  out.fill(0x20, 8, 8 + n)
  out.set(raw, 8)
  let pos = 8 + n
  for (const b of blobs) {
    out.set(b, pos)
    pos += b.length
  }
  return E.right(out)
}
