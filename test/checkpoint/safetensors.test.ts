// safetensors: the real fixture, strict header validation with errors naming the tensor, deterministic
// writing (sorted names, 8-byte aligned data), a write→read round-trip property over all dtypes, and the
// half-float codecs (exhaustively over all 2^16 bit patterns, plus hand-computed rounding cases).

import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from '../../src/checkpoint/dtype-codec.js'
import { formatCheckpointError } from '../../src/checkpoint/errors.js'
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js'
import type { DType, TensorData } from '../../src/checkpoint/types.js'
import { DTYPES } from '../../src/checkpoint/types.js'
import { fcSeed } from './pickle-bytes.js'

const here = dirname(fileURLToPath(import.meta.url))
const fixture = readFileSync(join(here, '../fixtures/checkpoints/spark_tiny_timm_style.safetensors'))

/** A file from a header object and a data section. */
const file = (header: unknown, data: Uint8Array, rawHeader?: string): Uint8Array => {
  const h = new TextEncoder().encode(rawHeader ?? JSON.stringify(header))
  const out = new Uint8Array(8 + h.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true)
  out.set(h, 8)
  out.set(data, 8 + h.length)
  return out
}
const err = (b: Uint8Array): string => {
  const r = readSafetensors(b)
  return E.isLeft(r) ? formatCheckpointError(r.left) : 'Right'
}
const bits = (t: TensorData): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)

describe('reading', () => {
  it('reads the real fixture: 72 tensors, metadata, I64 scalars', () => {
    const r = readSafetensors(fixture)
    if (E.isLeft(r)) throw new Error(formatCheckpointError(r.left))
    expect(r.right.tensors.size).toBe(72)
    expect(Object.keys(r.right.metadata).length).toBeGreaterThan(0)
    expect(r.right.tensors.get('layer1.0.bn1.num_batches_tracked')).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.from([1n]) })
    expect(r.right.tensors.get('conv1.weight')?.shape).toEqual([16, 3, 7, 7])
  })

  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'U8', shape: [3], data_offsets: [8, 11] } }
  const data = new Uint8Array(11)

  it('accepts a well-formed handcrafted file', () => {
    expect(err(file(ok, data))).toBe('Right')
  })

  it.each([
    ['unknown dtype', { a: { dtype: 'F8_E5M2', shape: [2], data_offsets: [0, 8] } }, data.subarray(0, 8), /tensor 'a': unsupported dtype "F8_E5M2"/],
    ['size mismatch', { ...ok, b: { dtype: 'U8', shape: [2, 2], data_offsets: [8, 11] } }, data, /tensor 'b': holds 3 bytes but shape \[2,2\] × U8 needs 4/],
    ['offset beyond data', { ...ok, b: { dtype: 'U8', shape: [3], data_offsets: [8, 12] } }, data, /tensor 'b': data_offsets \[8, 12\] beyond the 11-byte data section/],
    ['overlap', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'U8', shape: [4], data_offsets: [7, 11] } }, data, /tensor 'b'.*overlap tensor 'a'/],
    ['gap', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [3], data_offsets: [8, 11] } }, data, /tensor 'b': gap of 4 bytes/],
    ['uncovered tail', ok, new Uint8Array(12), /tensors cover 11 bytes but the data section has 12/],
    ['begin > end', { a: { dtype: 'U8', shape: [0], data_offsets: [3, 2] } }, data, /tensor 'a'.*begin > end/],
    ['bad shape', { a: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }, data, /tensor 'a': shape/],
    ['non-string metadata', { __metadata__: { k: 1 } }, new Uint8Array(0), /__metadata__ must map strings to strings/],
    ['not an object', [1, 2], new Uint8Array(0), /header does not start|not an object/],
  ] as const)('rejects %s', (_, header, d, re) => {
    expect(err(file(header, d))).toMatch(re)
  })

  it('rejects bad JSON, non-UTF-8, oversized and truncated headers', () => {
    expect(err(file(null, new Uint8Array(0), '{"a": '))).toMatch(/invalid JSON/)
    const bad = file(null, new Uint8Array(0), '{"\u00e9":1}')
    bad[10] = 0xff
    expect(err(bad)).toMatch(/not valid UTF-8/)
    const big = new Uint8Array(16)
    new DataView(big.buffer).setBigUint64(0, 200_000_000n, true)
    expect(err(big)).toMatch(/header length 200000000 exceeds/)
    expect(err(fixture.subarray(0, 5))).toMatch(/truncated file: safetensors header length/)
    expect(err(fixture.subarray(0, 100))).toMatch(/truncated file: safetensors header needs/)
    expect(err(fixture.subarray(0, fixture.length - 1))).toMatch(/beyond the|cover/)
  })
})

/** Arbitrary tensors whose values are exactly representable in their dtype. */
const tensorArb = (dtype: DType): fc.Arbitrary<TensorData> =>
  fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) => {
    const n = shape.reduce((a, b) => a * b, 1)
    const ints = (min: number, max: number) => fc.array(fc.integer({ min, max }), { minLength: n, maxLength: n })
    const floats = fc.array(fc.float({ noDefaultInfinity: false }), { minLength: n, maxLength: n })
    const make = (data: TensorData['data']): TensorData => ({ dtype, shape, data }) as TensorData
    switch (dtype) {
      case 'F64': return fc.array(fc.double(), { minLength: n, maxLength: n }).map((xs) => make(Float64Array.from(xs)))
      case 'F32': return floats.map((xs) => make(Float32Array.from(xs)))
      case 'F16': return ints(0, 0xffff).map((hs) => make(Float32Array.from(hs, halfToFloat)))
      case 'BF16': return ints(0, 0xffff).map((hs) => make(Float32Array.from(hs, bf16ToFloat)))
      case 'I64': return fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { minLength: n, maxLength: n }).map((xs) => make(BigInt64Array.from(xs)))
      case 'I32': return ints(-(2 ** 31), 2 ** 31 - 1).map((xs) => make(Int32Array.from(xs)))
      case 'I16': return ints(-32768, 32767).map((xs) => make(Int16Array.from(xs)))
      case 'I8': return ints(-128, 127).map((xs) => make(Int8Array.from(xs)))
      case 'U8': return ints(0, 255).map((xs) => make(Uint8Array.from(xs)))
      case 'BOOL': return ints(0, 1).map((xs) => make(Uint8Array.from(xs)))
    }
  })

const stateArb = fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__'), fc.constantFrom(...DTYPES)), { selector: ([k]) => k, maxLength: 8 })
  .chain((entries) => fc.tuple(...entries.map(([k, d]) => tensorArb(d).map((t) => [k, t] as const))))
  .map((entries) => new Map<string, TensorData>(entries))

describe('writing', () => {
  it('write → read round-trips bit-exactly and re-writing gives identical bytes (property)', () => {
    fc.assert(
      fc.property(stateArb, fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })), (tensors, metadata) => {
        const w = writeSafetensors(tensors, metadata)
        if (E.isLeft(w)) return false
        const header = Number(new DataView(w.right.buffer).getBigUint64(0, true))
        expect(header % 8).toBe(0)
        const r = readSafetensors(w.right)
        if (E.isLeft(r)) throw new Error(formatCheckpointError(r.left))
        expect([...r.right.tensors.keys()]).toEqual([...tensors.keys()].sort())
        expect(r.right.metadata).toEqual(metadata)
        for (const [k, t] of tensors) {
          const u = r.right.tensors.get(k) as TensorData
          expect([u.dtype, u.shape]).toEqual([t.dtype, t.shape])
          expect(Buffer.from(bits(u)).equals(Buffer.from(bits(t)))).toBe(true)
        }
        const again = writeSafetensors(r.right.tensors, r.right.metadata)
        return E.isRight(again) && Buffer.from(again.right).equals(Buffer.from(w.right))
      }),
      { numRuns: process.env['SPARKTS_DEEP'] === '1' ? 1000 : 150, ...fcSeed() },
    )
  })

  it('re-writes the real fixture losslessly', () => {
    const r = readSafetensors(fixture)
    if (E.isLeft(r)) throw new Error('fixture unreadable')
    const w = writeSafetensors(r.right.tensors, r.right.metadata)
    const back = E.isRight(w) ? readSafetensors(w.right) : w
    if (E.isLeft(back)) throw new Error(formatCheckpointError(back.left))
    for (const [k, t] of r.right.tensors) expect(Buffer.from(bits(back.right.tensors.get(k) as TensorData)).equals(Buffer.from(bits(t))), k).toBe(true)
  })

  it('reads zero-size tensors sharing an offset back in name order (integer-like JSON keys come first in JS)', () => {
    const empty = (dtype: 'F32' | 'BF16'): TensorData => ({ dtype, shape: [0], data: new Float32Array(0) })
    const w = writeSafetensors(new Map([['7', empty('BF16')], [' x', empty('F32')]]))
    const r = E.isRight(w) ? readSafetensors(w.right) : w
    expect(E.isRight(r) && [...r.right.tensors.keys()]).toEqual([' x', '7'])
  })

  it('refuses data whose length does not match the shape, naming the tensor', () => {
    const w = writeSafetensors(new Map([['w', { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } as TensorData]]))
    expect(E.isLeft(w) && formatCheckpointError(w.left)).toBe("tensor 'w': data has 3 elements, shape [2,2] needs 4")
  })
})

describe('half-float codecs', () => {
  // JS numbers are doubles: converting a signalling NaN sets its quiet bit (x86/ARM float→double rule), so
  // for those patterns the expected result is the same payload with the quiet bit set.
  it('binary16 and bfloat16 bits survive decode → encode for all 2^16 patterns (sNaN → qNaN)', () => {
    let bad = 0
    let quieted = 0
    for (let h = 0; h < 65536; h++) {
      const hNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0
      const hWant = hNaN && (h & 0x200) === 0 ? h | 0x200 : h
      const bNaN = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0
      const bWant = bNaN && (h & 0x40) === 0 ? h | 0x40 : h
      if (hWant !== h) quieted++
      if (floatToHalf(halfToFloat(h)) !== hWant) bad++
      if (floatToBf16(bf16ToFloat(h)) !== bWant) bad++
    }
    expect(bad).toBe(0)
    expect(quieted).toBe(2 * 511)
  })

  it('rounds to nearest even (hand-computed cases)', () => {
    expect(halfToFloat(0x3c00)).toBe(1)
    expect(halfToFloat(0x0001)).toBe(2 ** -24)
    expect(halfToFloat(0xfbff)).toBe(-65504)
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00) // tie between 1 and 1+2^-10 → even (1)
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02) // tie between 1+2^-10 and 1+2^-9 → even
    expect(floatToHalf(65520)).toBe(0x7c00) // halfway past the largest finite → inf
    expect(floatToHalf(2 ** -25)).toBe(0x0000) // tie between 0 and the smallest subnormal → 0
    expect(floatToHalf(1.5 * 2 ** -25)).toBe(0x0001)
    expect(floatToHalf(-0)).toBe(0x8000)
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true)
    expect(floatToBf16(1 + 2 ** -8)).toBe(0x3f80) // tie → even
    expect(floatToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82)
  })
})

describe('checkpoint error messages', () => {
  it('stay one line when a name read from the file holds control characters (fuzz regression: a newline in a storage key)', async () => {
    const { formatCheckpointError } = await import('../../src/checkpoint/errors.js')
    const msg = formatCheckpointError({ _tag: 'BadStorage', key: '32\n143024', message: 'listed but never referenced' })
    expect(msg).not.toMatch(/[\u0000-\u001f]/)
    expect(msg).toContain('32\\x0a143024')
  })
})
