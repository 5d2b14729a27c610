// PyTorch .pth readers against the real fixture files (zip, legacy, safetensors of the same state dict;
// the wrapped SparK checkpoint from ../shared when present) and against handcrafted archives with
// non-contiguous, offset and shared-storage views whose expected values are computed by hand.

import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { formatCheckpointError } from '../../src/checkpoint/errors.js'
import { readCheckpoint } from '../../src/checkpoint/read.js'
import { readCheckpointFile } from '../../src/checkpoint/read-file.js'
import { readSafetensors } from '../../src/checkpoint/safetensors.js'
import type { Checkpoint, TensorData } from '../../src/checkpoint/types.js'
import { P, bytesOf, f32Bytes, fcSeed, stateDictPickle, torchLegacy, torchZip } from './pickle-bytes.js'

const here = dirname(fileURLToPath(import.meta.url))
const local = (f: string): string => join(here, '../fixtures/checkpoints', f)
const SHARED = join(here, '../../../shared/fixtures/spark-tiny')

const load = (path: string): Checkpoint => {
  const r = readCheckpoint(readFileSync(path), path)
  if (E.isLeft(r)) throw new Error(formatCheckpointError(r.left))
  return r.right
}

/** Raw bytes of a tensor's data, for bit-identity comparisons. */
const bits = (t: TensorData): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)

const expectSameTensors = (a: ReadonlyMap<string, TensorData>, b: ReadonlyMap<string, TensorData>, prefix = ''): void => {
  for (const [k, t] of a) {
    const u = b.get(prefix + k)
    expect(u, prefix + k).toBeDefined()
    expect(u?.dtype, k).toBe(t.dtype)
    expect(u?.shape, k).toEqual(t.shape)
    expect(Buffer.from(bits(u as TensorData)).equals(Buffer.from(bits(t))), `${k} bit-identical`).toBe(true)
  }
}

describe('real spark_tiny_timm_style files', () => {
  const zip = load(local('spark_tiny_timm_style.pth'))
  const legacy = load(local('spark_tiny_timm_style_legacy.pth'))
  const st = load(local('spark_tiny_timm_style.safetensors'))

  it('sniffs the three formats and finds a bare state dict of 72 tensors', () => {
    expect([zip.format, legacy.format, st.format]).toEqual(['pth-zip', 'pth-legacy', 'safetensors'])
    for (const c of [zip, legacy, st]) {
      expect(c.tensors.size).toBe(72)
      expect(c.wrapper).toBeNull()
      expect(c.extras.size).toBe(0)
    }
  })

  it('zip and legacy give the same keys in the same order; safetensors the same key set', () => {
    expect([...legacy.tensors.keys()]).toEqual([...zip.tensors.keys()])
    expect([...st.tensors.keys()].sort()).toEqual([...zip.tensors.keys()].sort())
    expect([...zip.tensors.keys()].slice(0, 3)).toEqual(['conv1.weight', 'bn1.weight', 'bn1.bias'])
  })

  it('all three hold bit-identical data with identical shapes and dtypes', () => {
    expectSameTensors(zip.tensors, legacy.tensors)
    expectSameTensors(zip.tensors, st.tensors)
    const nonzero = [...zip.tensors.values()].filter((t) => t.dtype === 'F32' && t.data.some((x) => x !== 0))
    expect(nonzero.length).toBeGreaterThan(40)
  })

  it('keeps num_batches_tracked as a 0-d I64 and conv weights OIHW', () => {
    const nbt = zip.tensors.get('bn1.num_batches_tracked')
    expect(nbt?.dtype).toBe('I64')
    expect(nbt?.shape).toEqual([])
    expect(nbt?.data).toEqual(BigInt64Array.from([1n]))
    expect(zip.tensors.get('conv1.weight')?.shape).toEqual([16, 3, 7, 7])
  })

  it('matches the shapes and dtypes README.json lists (when ../shared is present)', (ctx) => {
    const readme = join(SHARED, 'README.json')
    if (!existsSync(readme)) return ctx.skip(`skipped: ${readme} absent`)
    const spec = JSON.parse(readFileSync(readme, 'utf8')).pytorch_checkpoints['spark_tiny_timm_style.pth'].tensors as Record<string, { shape: number[]; dtype: string }>
    expect(Object.keys(spec)).toEqual([...zip.tensors.keys()])
    for (const [k, s] of Object.entries(spec)) {
      expect(zip.tensors.get(k)?.shape, k).toEqual(s.shape)
      expect(zip.tensors.get(k)?.dtype, k).toBe(s.dtype === 'float32' ? 'F32' : 'I64')
    }
  })

  it('readCheckpointFile reads from disk and reports a missing file as Io', async () => {
    const r = await readCheckpointFile(local('spark_tiny_timm_style.pth'))
    expect(E.isRight(r) && r.right.tensors.size).toBe(72)
    const m = await readCheckpointFile(local('no-such-file.pth'))
    expect(E.isLeft(m) && m.left._tag).toBe('Io')
  })
})

describe('wrapped SparK checkpoint spark_tiny_withdecoder.pth', () => {
  const path = join(SHARED, 'spark_tiny_withdecoder.pth')
  const present = existsSync(path)
  if (!present) console.log(`skipping withdecoder tests: ${path} absent`)

  it.skipIf(!present)('unwraps module and lists encoder, densify, mask token and decoder keys', () => {
    const c = load(path)
    expect(c.wrapper).toBe('module')
    const keys = [...c.tensors.keys()]
    for (const p of ['sparse_encoder.sp_cnn.', 'densify_norms.', 'densify_projs.', 'mask_tokens.', 'dense_decoder.']) {
      expect(keys.some((k) => k.startsWith(p)), p).toBe(true)
    }
    expect(keys).not.toContain('config')
    expect(c.tensors.get('mask_tokens.0')?.shape.length).toBe(4)
    expect(c.tensors.get('sparse_encoder.sp_cnn.bn1.num_batches_tracked')?.dtype).toBe('I64')
  })

  it.skipIf(!present)('returns side entries as metadata and the SparK config as an extra', () => {
    const c = load(path)
    expect(c.metadata.get('arch')).toBe('spark_tiny_resnet')
    expect(c.metadata.get('epoch')).toBe(0)
    expect(c.metadata.get('input_size')).toBe(96)
    expect(c.metadata.get('is_pretrain')).toBe(true)
    expect(c.metadata.get('performance_desc')).toBe('1.5151 1.5151')
    expect(typeof c.metadata.get('args')).toBe('string')
    const opt = c.metadata.get('optimizer')
    expect(opt instanceof Map && [...opt.keys()]).toEqual(['state', 'param_groups'])
    const config = c.extras.get('config')
    expect(config instanceof Map && Object.fromEntries(config)).toEqual({
      mask_ratio: 0.6, densify_norm_str: 'bn', sbn: false, hierarchy: 4, 'sparse_encoder.input_size': 96, 'dense_decoder.width': 96,
    })
  })

  it.skipIf(!present)('its encoder subtree equals the timm-style file and its BN buffers equal bn_after.safetensors', () => {
    const c = load(path)
    expectSameTensors(load(local('spark_tiny_timm_style.pth')).tensors, c.tensors, 'sparse_encoder.sp_cnn.')
    const bn = readSafetensors(readFileSync(join(SHARED, 'bn_after.safetensors')))
    if (E.isLeft(bn)) throw new Error(formatCheckpointError(bn.left))
    let compared = 0
    for (const [k, t] of bn.right.tensors) {
      if (!k.endsWith('running_mean') && !k.endsWith('running_var')) continue
      expect(Buffer.from(bits(c.tensors.get(k) as TensorData)).equals(Buffer.from(bits(t))), k).toBe(true)
      compared++
    }
    expect(compared).toBeGreaterThan(20)
  })
})

describe('handcrafted archives', () => {
  // one storage s0 = [0, 1, ..., 11]; views: a transposed/offset view, a contiguous prefix, a stride-0 expand
  const views = [
    { key: 'a', storage: 's0', numel: 12, offset: 1, size: [3, 2], stride: [1, 3] },
    { key: 'b', storage: 's0', numel: 12, offset: 0, size: [2, 3], stride: [3, 1] },
    { key: 'c', storage: 's0', numel: 12, offset: 10, size: [2, 2], stride: [0, 1] },
    { key: 'n', storage: 's1', storageType: 'LongStorage', numel: 1, offset: 0, size: [], stride: [] },
  ]
  const s0 = f32Bytes(Array.from({ length: 12 }, (_, i) => i))
  const s1 = new Uint8Array(BigInt64Array.from([-7n]).buffer)
  const pkl = stateDictPickle(views)
  const expected = { a: [1, 4, 2, 5, 3, 6], b: [0, 1, 2, 3, 4, 5], c: [10, 11, 10, 11] }

  for (const [label, bytes] of [
    ['zip', torchZip(pkl, { s0, s1 })],
    ['legacy', torchLegacy(pkl, [['s0', 12, s0], ['s1', 1, s1]])],
  ] as const) {
    it(`${label}: strided, offset and shared-storage views materialise row-major`, () => {
      const r = readCheckpoint(bytes)
      if (E.isLeft(r)) throw new Error(formatCheckpointError(r.left))
      for (const [k, v] of Object.entries(expected)) expect([...(r.right.tensors.get(k)?.data ?? [])], k).toEqual(v)
      expect(r.right.tensors.get('a')?.shape).toEqual([3, 2])
      expect(r.right.tensors.get('n')).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.from([-7n]) })
    })
  }

  it('a transposed view of a random matrix materialises to its transpose (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 3 }), (rows, cols, off) => {
        const m = Array.from({ length: off + rows * cols }, (_, i) => i * 0.5 - 3)
        const p = stateDictPickle([{ key: 't', storage: '0', numel: m.length, offset: off, size: [cols, rows], stride: [1, cols] }])
        const r = readCheckpoint(torchZip(p, { '0': f32Bytes(m) }))
        const want = Array.from({ length: rows * cols }, (_, i) => m[off + (i % rows) * cols + Math.floor(i / rows)])
        return E.isRight(r) && JSON.stringify([...(r.right.tensors.get('t')?.data ?? [])]) === JSON.stringify(want)
      }),
      { numRuns: 50, ...fcSeed() },
    )
  })

  it('rejects a view reaching past its storage, a missing storage record and a wrong storage size', () => {
    const past = stateDictPickle([{ key: 'x', storage: '0', numel: 4, offset: 2, size: [3], stride: [1] }])
    const r1 = readCheckpoint(torchZip(past, { '0': f32Bytes([1, 2, 3, 4]) }))
    expect(E.isLeft(r1) && r1.left._tag).toBe('BadStorage')
    const ok = stateDictPickle([{ key: 'x', storage: '0', numel: 4, offset: 0, size: [4], stride: [1] }])
    const r2 = readCheckpoint(torchZip(ok, {}))
    expect(E.isLeft(r2) && r2.left).toEqual({ _tag: 'MissingRecord', name: 'archive/data/0' })
    const r3 = readCheckpoint(torchZip(ok, { '0': f32Bytes([1, 2, 3]) }))
    expect(E.isLeft(r3) && formatCheckpointError(r3.left)).toMatch(/storage '0': has 12 bytes, expected 16/)
  })

  it('rejects a stride-0 blow-up beyond the materialisation budget', () => {
    const p = stateDictPickle([{ key: 'x', storage: '0', numel: 1, offset: 0, size: [4096, 4096], stride: [0, 0] }])
    const r = readCheckpoint(torchZip(p, { '0': f32Bytes([1]) }))
    expect(E.isLeft(r) && r.left._tag).toBe('LimitExceeded')
  })

  it('detects a flipped byte in stored tensor data by CRC and a truncated archive', () => {
    const z = readFileSync(local('spark_tiny_timm_style.pth'))
    const flipped = Uint8Array.from(z)
    flipped[20000] = (flipped[20000] as number) ^ 0x10
    const r = readCheckpoint(flipped)
    expect(E.isLeft(r) && formatCheckpointError(r.left)).toMatch(/CRC-32 mismatch/)
    const t = readCheckpoint(z.subarray(0, z.length - 100))
    expect(E.isLeft(t) && t.left._tag).toBe('CorruptZip')
  })

  it('legacy: a truncated storage section and a wrong element count are clean errors', () => {
    const l = readFileSync(local('spark_tiny_timm_style_legacy.pth'))
    const t = readCheckpoint(l.subarray(0, l.length - 10))
    expect(E.isLeft(t) && t.left._tag).toBe('Truncated')
    const bad = torchLegacy(pkl, [['s0', 11, s0], ['s1', 1, s1]])
    const r = readCheckpoint(bad)
    expect(E.isLeft(r) && formatCheckpointError(r.left)).toMatch(/file says 11 elements, pickle says 12/)
  })

  it('reads deflated entries (a re-zipped archive) and unwraps _rebuild_parameter', () => {
    const param = bytesOf(
      P.proto(2), P.emptyDict, P.str('state_dict'), P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce,
      P.str('w'), P.global('torch._utils', '_rebuild_parameter'),
      P.global('torch._utils', '_rebuild_tensor_v2'), P.mark, P.mark, P.str('storage'), P.global('torch', 'HalfStorage'), P.str('k'), P.str('cpu'), P.int(3), P.tuple, P.binpersid,
      P.int(0), P.int(3), P.tuple1, P.int(1), P.tuple1, P.f, P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, P.tuple, P.reduce,
      P.t, P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, P.tuple3, P.reduce,
      P.setitem, P.setitem, P.str('epoch'), P.int(3), P.setitem, P.stop,
    )
    const half = Uint8Array.from([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38]) // binary16 1, -2, 0.5
    const r = readCheckpoint(torchZip(param, { k: half }, 'deflated', 6))
    if (E.isLeft(r)) throw new Error(formatCheckpointError(r.left))
    expect(r.right.wrapper).toBe('state_dict')
    expect(r.right.metadata.get('epoch')).toBe(3)
    expect(r.right.tensors.get('w')).toEqual({ dtype: 'F16', shape: [3], data: Float32Array.from([1, -2, 0.5]) })
  })

  it('a top-level list is not a state dict', () => {
    const r = readCheckpoint(torchZip(Uint8Array.from([...P.proto(2), ...P.emptyList, ...P.stop]), {}))
    expect(E.isLeft(r) && r.left._tag).toBe('NotAStateDict')
  })
})
