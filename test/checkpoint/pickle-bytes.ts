// Test helpers: a minimal pickle *writer* (opcode byte sequences per pickletools' table) and builders for
// PyTorch zip and legacy files around a handcrafted state_dict pickle, so tests can construct hostile,
// non-contiguous and shared-storage checkpoints byte by byte.

import { zipSync } from 'fflate'

type Part = ReadonlyArray<number> | Uint8Array

const le = (v: bigint, n: number): number[] => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn))
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Opcode byte sequences. */
export const P = {
  proto: (v: number): Part => [0x80, v],
  stop: [0x2e] as Part,
  mark: [0x28] as Part,
  none: [0x4e] as Part,
  t: [0x88] as Part,
  f: [0x89] as Part,
  emptyTuple: [0x29] as Part,
  tuple: [0x74] as Part,
  tuple1: [0x85] as Part,
  tuple2: [0x86] as Part,
  tuple3: [0x87] as Part,
  emptyList: [0x5d] as Part,
  append: [0x61] as Part,
  appends: [0x65] as Part,
  emptyDict: [0x7d] as Part,
  dict: [0x64] as Part,
  setitem: [0x73] as Part,
  setitems: [0x75] as Part,
  reduce: [0x52] as Part,
  build: [0x62] as Part,
  newobj: [0x81] as Part,
  binpersid: [0x51] as Part,
  stackGlobal: [0x93] as Part,
  memoize: [0x94] as Part,
  dup: [0x32] as Part,
  pop: [0x30] as Part,
  global: (m: string, n: string): Part => [0x63, ...utf8(`${m}\n${n}\n`)],
  str: (s: string): Part => {
    const b = utf8(s)
    return b.length < 256 ? [0x8c, b.length, ...b] : [0x58, ...le(BigInt(b.length), 4), ...b]
  },
  str8: (s: string): Part => { const b = utf8(s); return [0x8d, ...le(BigInt(b.length), 8), ...b] },
  binunicode: (s: string): Part => { const b = utf8(s); return [0x58, ...le(BigInt(b.length), 4), ...b] },
  bytes: (b: ReadonlyArray<number>): Part => [0x43, b.length, ...b],
  int: (n: number): Part =>
    n >= 0 && n < 256 ? [0x4b, n] : n >= 0 && n < 65536 ? [0x4d, ...le(BigInt(n), 2)] : [0x4a, ...le(BigInt.asUintN(32, BigInt(n)), 4)],
  long1: (v: bigint, n: number): Part => [0x8a, n, ...le(BigInt.asUintN(8 * n, v), n)],
  float: (x: number): Part => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, x, false); return [0x47, ...b] },
  put: (i: number): Part => (i < 256 ? [0x71, i] : [0x72, ...le(BigInt(i), 4)]),
  get: (i: number): Part => (i < 256 ? [0x68, i] : [0x6a, ...le(BigInt(i), 4)]),
  frame: (n: number): Part => [0x95, ...le(BigInt(n), 8)],
}

/** Concatenates parts into one byte array. */
export const bytesOf = (...parts: ReadonlyArray<Part>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** One tensor of a handcrafted state dict. */
export interface ViewSpec {
  readonly key: string
  readonly storage: string
  readonly storageType?: string
  readonly numel: number
  readonly offset: number
  readonly size: ReadonlyArray<number>
  readonly stride: ReadonlyArray<number>
}

const ints = (xs: ReadonlyArray<number>): Part[] => [P.mark, ...xs.map(P.int), P.tuple]

/** A torch-style state_dict pickle: OrderedDict of _rebuild_tensor_v2 views. */
export const stateDictPickle = (views: ReadonlyArray<ViewSpec>, extra: ReadonlyArray<Part> = []): Uint8Array =>
  bytesOf(
    P.proto(2), P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, P.mark,
    ...views.flatMap((v) => [
      P.str(v.key), P.global('torch._utils', '_rebuild_tensor_v2'), P.mark,
      P.mark, P.str('storage'), P.global('torch', v.storageType ?? 'FloatStorage'), P.str(v.storage), P.str('cpu'), P.int(v.numel), P.tuple, P.binpersid,
      P.int(v.offset), ...ints(v.size), ...ints(v.stride), P.f, P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce,
      P.tuple, P.reduce,
    ]),
    ...extra, P.setitems, P.stop,
  )

/** A zip-format .pth around a pickle and raw storages (stored like torch.save, or deflated with level 6). */
export const torchZip = (pkl: Uint8Array, storages: Readonly<Record<string, Uint8Array>>, name = 'archive', level: 0 | 6 = 0): Uint8Array =>
  zipSync(
    {
      [`${name}/data.pkl`]: pkl,
      ...Object.fromEntries(Object.entries(storages).map(([k, v]) => [`${name}/data/${k}`, v])),
      [`${name}/version`]: utf8('3\n'),
    },
    { level },
  )

/** A legacy-format .pth: magic, protocol, sys_info, the pickle, the key list, then count + bytes per storage. */
export const torchLegacy = (pkl: Uint8Array, storages: ReadonlyArray<readonly [string, number, Uint8Array]>): Uint8Array =>
  bytesOf(
    P.proto(2), P.long1(0x1950a86a20f9469cfc6cn, 10), P.stop,
    P.proto(2), P.int(1001), P.stop,
    P.proto(2), P.emptyDict, P.mark, P.str('protocol_version'), P.int(1001), P.str('little_endian'), P.t, P.setitems, P.stop,
    pkl,
    P.proto(2), P.emptyList, P.mark, ...storages.map(([k]) => P.str(k)), P.appends, P.stop,
    ...storages.flatMap(([, n, b]) => [le(BigInt(n), 8), b]),
  )

/** Little-endian float32 bytes. */
export const f32Bytes = (xs: ReadonlyArray<number>): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer)

/** fast-check seed from env FC_SEED (undefined = fast-check's own seed, reported on failure). */
export const fcSeed = (): { seed?: number } => (process.env['FC_SEED'] === undefined ? {} : { seed: Number(process.env['FC_SEED']) })
