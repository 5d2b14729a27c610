// A validating zip reader for PyTorch archives (layout per PKWARE APPNOTE: end-of-central-directory record,
// optional zip64 locator/record, central directory headers, local headers). fflate decompresses deflated
// entries; the directory walk is our own because fflate's unzipSync trusts the directory (a hostile entry
// count makes it loop for billions of entries, out-of-range sizes are silently clipped) and copies every
// entry, while torch.save stores entries uncompressed, so returning views avoids a second copy of the
// weights. Every entry's CRC-32 is checked, as PyTorch's reader does, so flipped bytes are reported.

import * as E from 'fp-ts/lib/Either.js'
import { inflateSync, strFromU8 } from 'fflate'
import type { CheckpointError } from './errors.js'
import { workMeter } from './work.js'

/** One archive member. */
export interface ZipEntry {
  readonly name: string
  readonly method: number
  readonly crc: number
  readonly compressed: number
  readonly size: number
  readonly dataStart: number
}

const corrupt = (message: string): E.Either<CheckpointError, never> => E.left({ _tag: 'CorruptZip', message })

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

/** CRC-32 (IEEE 802.3 polynomial, reflected), as zip uses. */
export const crc32 = (data: Uint8Array): number => {
  let c = 0xffffffff
  for (let i = 0; i < data.length; i++) c = (CRC_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const u64 = (dv: DataView, at: number): number => {
  const v = dv.getBigUint64(at, true)
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v)
}

/** Finds the central directory: [entry count, offset, size]. */
const findDirectory = (b: Uint8Array, dv: DataView): E.Either<CheckpointError, readonly [number, number, number]> => {
  let e = b.length - 22
  const stop = Math.max(0, b.length - 22 - 65535)
  while (e >= stop && dv.getUint32(e, true) !== 0x06054b50) e--
  if (e < stop) return corrupt('no end-of-central-directory record')
  let count = dv.getUint16(e + 10, true)
  let size = dv.getUint32(e + 12, true)
  let offset = dv.getUint32(e + 16, true)
  if (e >= 20 && dv.getUint32(e - 20, true) === 0x07064b50) {
    const z = u64(dv, e - 12)
    if (z > b.length - 56 || dv.getUint32(z, true) !== 0x06064b50) return corrupt('bad zip64 end-of-central-directory record')
    count = u64(dv, z + 32)
    size = u64(dv, z + 40)
    offset = u64(dv, z + 48)
  }
  if (offset > b.length || size > b.length - offset || count * 46 > size) return corrupt(`central directory (${count} entries, ${size} bytes at ${offset}) outside the file`)
  return E.right([count, offset, size])
}

/** Reads and bounds-checks the central directory. */
export const scanZip = (b: Uint8Array): E.Either<CheckpointError, ReadonlyMap<string, ZipEntry>> => {
  if (b.length < 22) return corrupt(`${b.length} bytes is too short for a zip archive`)
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const dir = findDirectory(b, dv)
  if (E.isLeft(dir)) return dir
  const [count, start, size] = dir.right
  const end = start + size
  const entries = new Map<string, ZipEntry>()
  let p = start
  for (let i = 0; i < count; i++) {
    workMeter.steps++
    if (p + 46 > end || dv.getUint32(p, true) !== 0x02014b50) return corrupt(`central directory entry ${i} malformed`)
    const flags = dv.getUint16(p + 8, true)
    const method = dv.getUint16(p + 10, true)
    const crc = dv.getUint32(p + 16, true)
    let compressed = dv.getUint32(p + 20, true)
    let usize = dv.getUint32(p + 24, true)
    const nameLen = dv.getUint16(p + 28, true)
    const extraLen = dv.getUint16(p + 30, true)
    const commentLen = dv.getUint16(p + 32, true)
    let local = dv.getUint32(p + 42, true)
    const next = p + 46 + nameLen + extraLen + commentLen
    if (next > end) return corrupt(`central directory entry ${i} overruns the directory`)
    const name = strFromU8(b.subarray(p + 46, p + 46 + nameLen), (flags & 0x800) === 0)
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; x += 4 + dv.getUint16(x + 2, true)) {
      if (dv.getUint16(x, true) !== 1) continue
      let f = x + 4
      const take = (): number => { const v = f + 8 <= next ? u64(dv, f) : Number.MAX_SAFE_INTEGER; f += 8; return v }
      if (usize === 0xffffffff) usize = take()
      if (compressed === 0xffffffff) compressed = take()
      if (local === 0xffffffff) local = take()
    }
    if (local + 30 > b.length || dv.getUint32(local, true) !== 0x04034b50) return corrupt(`'${name}': local header missing`)
    const dataStart = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true)
    if (dataStart > b.length || compressed > b.length - dataStart) return corrupt(`'${name}': data (${compressed} bytes at ${dataStart}) outside the file`)
    if (method !== 0 && method !== 8) return corrupt(`'${name}': compression method ${method} not supported`)
    if (method === 0 && compressed !== usize) return corrupt(`'${name}': stored entry sizes differ (${compressed} vs ${usize})`)
    if (method === 8 && usize > 1032 * compressed + 64) return corrupt(`'${name}': implausible deflate ratio (${usize} from ${compressed} bytes)`)
    if (entries.has(name)) return corrupt(`duplicate entry '${name}'`)
    entries.set(name, { name, method, crc, compressed, size: usize, dataStart })
    p = next
  }
  return E.right(entries)
}

/** An entry's bytes (a view for stored entries), CRC-checked. */
export const readEntry = (b: Uint8Array, e: ZipEntry): E.Either<CheckpointError, Uint8Array> => {
  const raw = b.subarray(e.dataStart, e.dataStart + e.compressed)
  let data: Uint8Array
  if (e.method === 0) data = raw
  else {
    try {
      data = inflateSync(raw, { out: new Uint8Array(e.size) })
    } catch (err) {
      return corrupt(`'${e.name}': ${err instanceof Error ? err.message : String(err)}`)
    }
    if (data.length !== e.size) return corrupt(`'${e.name}': inflated to ${data.length} bytes, expected ${e.size}`)
  }
  const c = crc32(data)
  return c === e.crc ? E.right(data) : corrupt(`'${e.name}': CRC-32 mismatch (${c.toString(16)} vs ${e.crc.toString(16)})`)
}
