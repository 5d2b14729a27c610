// `sparkts reconstruct` driven in-process through the CLI's `run(argv, io)`. Acceptance: the machine mode
// on the official spark_tiny_withdecoder.pth with the input and mask of forward_eval.safetensors (the
// official eval-mode forward of that checkpoint) reproduces its loss, reconstruction and features.
// Tolerance 1e-4 relative to each tensor's largest magnitude: float32 vs float32; the fixture records
// the official code's own float32-vs-float64 differences up to 6e-6 of scale. The fixture files are read
// from ../shared (the .pth is 6.5 MB and is not copied); the tests skip with a printed reason when absent.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from '../../src/cli/main.js'
import { readCheckpointFile } from '../../src/checkpoint/read-file.js'
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js'
import type { Checkpoint, PyData, TensorData } from '../../src/checkpoint/types.js'
import { describeSparkCheckpoint, sparkKeyOf } from '../../src/cli/reconstruct-checkpoint.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const shared = join(root, '..', 'shared', 'fixtures', 'spark-tiny')
const withDecoder = join(shared, 'spark_tiny_withdecoder.pth')
const forwardEval = join(shared, 'forward_eval.safetensors')
const haveFixture = existsSync(withDecoder) && existsSync(forwardEval)
if (!haveFixture) console.log(`skipping the spark-tiny reconstruct acceptance tests: ${shared} has no spark_tiny_withdecoder.pth / forward_eval.safetensors`)
let tmp = ''

const cli = async (...argv: string[]) => {
  const out: string[] = []
  const err: string[] = []
  const code = await run(argv, { out: (s) => out.push(s), err: (s) => err.push(s) }, { cwd: root })
  return { code, out: out.join('\n'), err }
}

const load = (path: string): ReadonlyMap<string, TensorData> => {
  const st = readSafetensors(readFileSync(path))
  if (E.isLeft(st)) throw new Error(`${path} unreadable`)
  return st.right.tensors
}

/** max |a − b| / max |b|: the error relative to the tensor's scale. */
const relErr = (a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): number => {
  expect(a.length).toBe(b.length)
  let scale = 0
  let err = 0
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(Number(b[i])))
    err = Math.max(err, Math.abs(Number(a[i]) - Number(b[i])))
  }
  return err / scale
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sparkts-reconstruct-'))
})
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe.skipIf(!haveFixture)('sparkts reconstruct --input/--mask ≡ official eval forward (spark-tiny)', () => {
  const names = ['loss', 'reconstruction', 'features.0', 'features.1', 'features.2', 'features.3']
  for (const backend of ['reference', 'tfjs-wasm']) {
    it(`${backend}: loss, reconstruction and features.0–3 within 1e-4`, async () => {
      const out = join(tmp, `fwd-${backend}.safetensors`)
      const r = await cli('reconstruct', withDecoder, '--input', forwardEval, '--mask', forwardEval, '--output', out, '--backend', backend)
      expect(r.err).toEqual([])
      expect(r.code).toBe(0)
      expect(r.out).toMatch(/^model spark_tiny_resnet, decoder width 96, densify norm bn, mask ratio 0\.6, input size 96$/m)
      const got = load(out)
      const want = load(forwardEval)
      expect([...got.keys()].sort()).toEqual([...names].sort())
      for (const k of names) {
        const a = got.get(k)
        const b = want.get(k)
        if (a === undefined || b === undefined) throw new Error(k)
        expect(a.shape, k).toEqual(b.shape)
        const e = relErr(a.data, b.data)
        console.log(`${backend} ${k} relative error ${e.toExponential(2)}`)
        expect(e, k).toBeLessThanOrEqual(1e-4)
      }
    })
  }
})

const writeSt = (path: string, tensors: ReadonlyMap<string, TensorData>, metadata: Record<string, string> = {}): void => {
  const b = writeSafetensors(tensors, metadata)
  if (E.isLeft(b)) throw new Error('safetensors write failed')
  writeFileSync(path, b.right)
}
const sameTensors = (a: string, b: string): void => {
  const [x, y] = [load(a), load(b)]
  expect([...x.keys()]).toEqual([...y.keys()])
  for (const [k, t] of x) expect(Buffer.compare(Buffer.from((t.data as Float32Array).buffer), Buffer.from((y.get(k)?.data as Float32Array).buffer)), k).toBe(0)
}

describe.skipIf(!haveFixture)('sparkts reconstruct: sparkts checkpoints and refusals (spark-tiny)', () => {
  it('a sparkts safetensors checkpoint (bare encoder names, arch/input_size/config metadata) ≡ the official .pth', async () => {
    const ck = await readCheckpointFile(withDecoder)
    if (E.isLeft(ck)) throw new Error('fixture unreadable')
    const bare = new Map([...ck.right.tensors].map(([k, t]) => [k.replace(/^sparse_encoder\.sp_cnn\./, ''), t] as const))
    const config = JSON.stringify({ mask_ratio: 0.6, densify_norm_str: 'bn', 'dense_decoder.width': 96 })
    writeSt(join(tmp, 'sparkts.safetensors'), bare, { arch: 'spark_tiny_resnet', input_size: '96', config })
    writeSt(join(tmp, 'no-meta.safetensors'), ck.right.tensors)
    const outs = ['pth', 'sparkts', 'no-meta'].map((n) => join(tmp, `same-${n}.safetensors`))
    const io = ['--input', forwardEval, '--mask', forwardEval, '--backend', 'tfjs-wasm']
    expect((await cli('reconstruct', withDecoder, ...io, '--output', outs[0] ?? '')).code).toBe(0)
    const a = await cli('reconstruct', join(tmp, 'sparkts.safetensors'), ...io, '--output', outs[1] ?? '')
    expect(a.err).toEqual([])
    expect(a.out).toMatch(/^model spark_tiny_resnet, decoder width 96, densify norm bn, mask ratio 0\.6, input size 96$/m)
    // Without any metadata: the arch must be given; width (96) from the decoder's shapes, norm bn from the keys.
    const noArch = await cli('reconstruct', join(tmp, 'no-meta.safetensors'), ...io, '--output', outs[2] ?? '')
    expect(noArch.code).toBe(1)
    expect(noArch.err).toEqual([expect.stringMatching(/^sparkts: error: .*names no architecture .*pass --arch/)])
    expect(existsSync(outs[2] ?? '')).toBe(false)
    const b = await cli('reconstruct', join(tmp, 'no-meta.safetensors'), ...io, '--output', outs[2] ?? '', '--arch', 'spark_tiny_resnet')
    expect(b.out).toMatch(/^model spark_tiny_resnet, decoder width 96, densify norm bn, mask ratio 0\.6, input size 224$/m)
    sameTensors(outs[0] ?? '', outs[1] ?? '')
    sameTensors(outs[0] ?? '', outs[2] ?? '')
  })

  it('refusals: one line, exit 1, no output file', async () => {
    const out = join(tmp, 'refused.safetensors')
    const io = ['--input', forwardEval, '--mask', forwardEval, '--output', out, '--backend', 'tfjs-wasm']
    const encoderOnly = join(root, 'test', 'fixtures', 'checkpoints', 'spark_tiny_timm_style.pth')
    const badMask = join(tmp, 'bad-mask.safetensors')
    writeSt(badMask, new Map([['mask', { dtype: 'F32', shape: [2, 1, 2, 2], data: new Float32Array(8) }]]))
    const halfMask = join(tmp, 'half-mask.safetensors')
    writeSt(halfMask, new Map([['mask', { dtype: 'F32', shape: [2, 1, 3, 3], data: new Float32Array(18).fill(0.5) }]]))
    const cases: Array<readonly [string[], RegExp]> = [
      [['reconstruct', encoderOnly, ...io], /no SparK decoder in the checkpoint/],
      [['reconstruct', join(tmp, 'nope.pth'), ...io], /cannot read '.*nope\.pth'/],
      [['reconstruct', withDecoder, ...io, '--arch', 'resnet18'], /checkpoint does not fit resnet18 .*missing keys/],
      [['reconstruct', withDecoder, '--input', forwardEval, '--mask', badMask, '--output', out], /'mask' has shape \[2,1,2,2\]; expected \[2,1,3,3\]/],
      [['reconstruct', withDecoder, '--input', forwardEval, '--mask', halfMask, '--output', out], /mask value 0\.5 at flat index 0 is not 0 or 1/],
      [['reconstruct', withDecoder, '--input', forwardEval, '--output', out], /machine mode needs --input, --mask and --output/],
      [['reconstruct', withDecoder, ...io, '--image', 'x.png'], /not both/],
      [['reconstruct', withDecoder, ...io.slice(0, 4), '--output', join(tmp, 'no-such-dir', 'o.safetensors')], /writing '.*o\.safetensors'/],
    ]
    for (const [argv, msg] of cases) {
      const r = await cli(...argv)
      expect(r.code, argv.join(' ')).toBe(1)
      expect(r.err, argv.join(' ')).toEqual([expect.stringMatching(msg)])
      expect(r.err[0]).toMatch(/^sparkts: error: [^\n]+$/)
      expect(existsSync(out)).toBe(false)
    }
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([])
  })
})

describe('describeSparkCheckpoint', () => {
  const t = (shape: number[]): TensorData => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) })
  const ckpt = (keys: Record<string, number[]>, metadata: Record<string, PyData> = {}, extras: Record<string, PyData> = {}): Checkpoint => ({
    format: 'safetensors',
    tensors: new Map(Object.entries(keys).map(([k, s]) => [k, t(s)])),
    wrapper: null,
    metadata: new Map(Object.entries(metadata)),
    extras: new Map(Object.entries(extras)),
  })
  const dec = { 'dense_decoder.dec.0.conv.0.weight': [768, 768, 3, 3] }

  it('reads width from the decoder shape, norm from the densify keys, defaults input 224 and ratio 0.6', () => {
    const bn = describeSparkCheckpoint(ckpt({ ...dec, 'densify_norms.0.running_mean': [2048], 'sparse_encoder.sp_cnn.conv1.weight': [64, 3, 7, 7] }))
    expect(E.isRight(bn) && [bn.right.decoderWidth, bn.right.densifyNorm, bn.right.inputSize, bn.right.maskRatio, bn.right.prefixed, bn.right.arch]).toEqual([768, 'bn', 224, 0.6, true, undefined])
    const ln = describeSparkCheckpoint(ckpt({ ...dec, 'densify_norms.0.weight': [768] }))
    expect(E.isRight(ln) && [ln.right.densifyNorm, ln.right.prefixed]).toEqual(['ln', false])
    const none = describeSparkCheckpoint(ckpt({ 'module.dense_decoder.dec.0.conv.0.weight': [96, 96, 3, 3] }))
    expect(E.isRight(none) && [none.right.densifyNorm, none.right.decoderWidth, [...none.right.state.keys()]]).toEqual(['none', 96, ['dense_decoder.dec.0.conv.0.weight']])
  })

  it('the config (official extras, or metadata JSON) and the arch/input_size entries win', () => {
    const cfg = new Map<string, PyData>([['mask_ratio', 0.75], ['densify_norm_str', 'ln'], ['dense_decoder.width', 512], ['sparse_encoder.input_size', 384]])
    const a = describeSparkCheckpoint(ckpt(dec, { arch: 'convnext_large' }, { config: cfg }))
    expect(E.isRight(a) && [a.right.arch, a.right.maskRatio, a.right.densifyNorm, a.right.decoderWidth, a.right.inputSize]).toEqual(['convnext_large', 0.75, 'ln', 512, 384])
    const b = describeSparkCheckpoint(ckpt(dec, { input_size: '160', config: JSON.stringify({ mask_ratio: 0.5, densify_norm_str: '' }) }))
    expect(E.isRight(b) && [b.right.inputSize, b.right.maskRatio, b.right.densifyNorm]).toEqual([160, 0.5, 'none'])
    expect(describeSparkCheckpoint(ckpt(dec, {}, { config: new Map([['mask_ratio', 1.5]]) }))).toEqual(E.left("bad mask ratio 1.5 (config 'mask_ratio' must be in [0, 1])"))
    expect(E.isLeft(describeSparkCheckpoint(ckpt({ 'conv1.weight': [64, 3, 7, 7] })))).toBe(true)
  })

  it('sparkKeyOf prefixes encoder names only, and only for official checkpoints', () => {
    const k = sparkKeyOf(true)
    expect(['conv1.weight', 'mask_tokens.0', 'densify_projs.1.bias', 'dense_decoder.proj.weight', 'densify_norms.2.running_var'].map(k)).toEqual([
      'sparse_encoder.sp_cnn.conv1.weight', 'mask_tokens.0', 'densify_projs.1.bias', 'dense_decoder.proj.weight', 'densify_norms.2.running_var',
    ])
    expect(sparkKeyOf(false)('conv1.weight')).toBe('conv1.weight')
  })
})
