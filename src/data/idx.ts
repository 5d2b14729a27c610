// Parser of the IDX format (Y. LeCun's MNIST container, also used by Fashion-MNIST): a big-endian header
// (two zero bytes, a type code, the number of dimensions, then each dimension as uint32) followed by the
// data. Only unsigned bytes (type 0x08) are needed by sparkts's built-in dataset; anything else is a Left.
// Hand-written because the format is 10 lines and no maintained npm package is worth a dependency for it.

import * as E from 'fp-ts/lib/Either.js'

/** An IDX array of unsigned bytes. */
export interface IdxArray {
  readonly shape: ReadonlyArray<number>
  readonly data: Uint8Array
}

/** Parses an (uncompressed) IDX file of uint8; Left names what is wrong. */
export const parseIdx = (b: Uint8Array, name = 'idx'): E.Either<string, IdxArray> => {
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) return E.left(`${name}: not an IDX file (bad magic)`)
  if (b[2] !== 0x08) return E.left(`${name}: IDX type 0x${(b[2] ?? 0).toString(16)} is not unsigned byte (0x08)`)
  const dims = b[3] ?? 0
  if (dims < 1 || b.length < 4 + 4 * dims) return E.left(`${name}: truncated IDX header (${dims} dimensions)`)
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i, false))
  const n = shape.reduce((a, c) => a * c, 1)
  const start = 4 + 4 * dims
  if (b.length !== start + n) return E.left(`${name}: IDX data has ${b.length - start} bytes, shape [${shape.join(',')}] needs ${n}`)
  return E.right({ shape, data: b.subarray(start) })
}
