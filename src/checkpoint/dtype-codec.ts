// Little-endian byte codecs for every DType: bytes → host arrays (decode) and back (encode). Half floats
// (IEEE binary16, bfloat16) are converted bit-exactly to/from float32 with round-to-nearest-even, derived
// from the formats' definitions (sign | exponent | mantissa; bias 15 resp. the float32 layout truncated).
// Signalling NaNs come back quiet (JS numbers are doubles and the conversion sets the quiet bit); F32/F64
// bytes are copied, so their NaN payloads are kept. Hand-written: a few lines, no dependency worth adding.

import type { ArrayOf, DType, TensorData } from './types.js'
import { DTYPE_SIZE } from './types.js'

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** binary16 bits → float32 value (exact). */
export const halfToFloat = (h: number): number => {
  const sign = (h & 0x8000) << 16
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0) return (sign === 0 ? 1 : -1) * mant * 2 ** -24
  u32[0] = exp === 31 ? (sign | 0x7f800000 | (mant << 13)) >>> 0 : (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0
  return f32[0] as number
}

/** float32 value → binary16 bits (round to nearest even; overflow → ±inf; NaN stays NaN). */
export const floatToHalf = (x: number): number => {
  f32[0] = x
  const u = u32[0] as number
  const sign = (u >>> 16) & 0x8000
  const e = (u >>> 23) & 0xff
  const m = u & 0x7fffff
  if (e === 255) return sign | 0x7c00 | (m === 0 ? 0 : (m >>> 13) || 0x200)
  const E = e - 127
  if (E > 15) return sign | 0x7c00
  if (E >= -14) {
    const mant = m >>> 13
    const rem = m & 0x1fff
    const up = rem > 0x1000 || (rem === 0x1000 && (mant & 1) === 1) ? 1 : 0
    return sign | (((E + 15) << 10) + mant + up)
  }
  if (e === 0) return sign
  const s = -E - 1
  if (s > 24) return sign
  const M = m | 0x800000
  const mant = M >>> s
  const rem = M & ((1 << s) - 1)
  const half = 1 << (s - 1)
  const up = rem > half || (rem === half && (mant & 1) === 1) ? 1 : 0
  return sign | (mant + up)
}

/** bfloat16 bits → float32 value (exact). */
export const bf16ToFloat = (b: number): number => {
  u32[0] = (b << 16) >>> 0
  return f32[0] as number
}

/** float32 value → bfloat16 bits (round to nearest even; NaN stays NaN). */
export const floatToBf16 = (x: number): number => {
  f32[0] = x
  const u = u32[0] as number
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff
}

/** A fresh, aligned copy of some bytes. */
const aligned = (bytes: Uint8Array): ArrayBuffer => {
  const buf = new ArrayBuffer(bytes.length)
  new Uint8Array(buf).set(bytes)
  return buf
}

const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** Decodes little-endian bytes (length = numel × element size, checked by the caller) into a host array. */
export const decodeBytes = <K extends DType>(dtype: K, bytes: Uint8Array): ArrayOf[K] => {
  const n = bytes.length / DTYPE_SIZE[dtype]
  const dv = view(bytes)
  const table: { readonly [D in DType]: () => ArrayOf[D] } = {
    F64: () => (LITTLE_ENDIAN_HOST ? new Float64Array(aligned(bytes)) : Float64Array.from({ length: n }, (_, i) => dv.getFloat64(8 * i, true))),
    F32: () => (LITTLE_ENDIAN_HOST ? new Float32Array(aligned(bytes)) : Float32Array.from({ length: n }, (_, i) => dv.getFloat32(4 * i, true))),
    F16: () => Float32Array.from({ length: n }, (_, i) => halfToFloat(dv.getUint16(2 * i, true))),
    BF16: () => Float32Array.from({ length: n }, (_, i) => bf16ToFloat(dv.getUint16(2 * i, true))),
    I64: () => (LITTLE_ENDIAN_HOST ? new BigInt64Array(aligned(bytes)) : BigInt64Array.from({ length: n }, (_, i) => dv.getBigInt64(8 * i, true))),
    I32: () => (LITTLE_ENDIAN_HOST ? new Int32Array(aligned(bytes)) : Int32Array.from({ length: n }, (_, i) => dv.getInt32(4 * i, true))),
    I16: () => (LITTLE_ENDIAN_HOST ? new Int16Array(aligned(bytes)) : Int16Array.from({ length: n }, (_, i) => dv.getInt16(2 * i, true))),
    I8: () => new Int8Array(aligned(bytes)),
    U8: () => new Uint8Array(aligned(bytes)),
    BOOL: () => Uint8Array.from(bytes, (b) => (b === 0 ? 0 : 1)),
  }
  return table[dtype]()
}

/** Encodes a tensor's data as little-endian bytes of its dtype. */
export const encodeTensor = (t: TensorData): Uint8Array => {
  const size = DTYPE_SIZE[t.dtype]
  const d = t.data
  if (LITTLE_ENDIAN_HOST && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'BOOL') {
    return new Uint8Array(d.buffer, d.byteOffset, d.length * size).slice()
  }
  const out = new Uint8Array(t.data.length * size)
  const dv = view(out)
  for (let i = 0; i < d.length; i++) {
    switch (t.dtype) {
      case 'F64': dv.setFloat64(8 * i, t.data[i] as number, true); break
      case 'F32': dv.setFloat32(4 * i, t.data[i] as number, true); break
      case 'F16': dv.setUint16(2 * i, floatToHalf(t.data[i] as number), true); break
      case 'BF16': dv.setUint16(2 * i, floatToBf16(t.data[i] as number), true); break
      case 'I64': dv.setBigInt64(8 * i, t.data[i] as bigint, true); break
      case 'I32': dv.setInt32(4 * i, t.data[i] as number, true); break
      case 'I16': dv.setInt16(2 * i, t.data[i] as number, true); break
      case 'I8': dv.setInt8(i, t.data[i] as number); break
      case 'U8': out[i] = t.data[i] as number; break
      case 'BOOL': out[i] = t.data[i] === 0 ? 0 : 1; break
    }
  }
  return out
}
