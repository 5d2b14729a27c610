// `sparkts convert` / `sparkts run` driven in-process through the CLI's `run(argv, io)` (exit codes and
// one-line stderr as a user sees them). `--arch` is given the spark-tiny custom backbone as the TypeScript
// example module examples/spark-tiny-cnn.ts: vitest's module runner imports .ts for the CLI's dynamic
// import, so no compiled copy is needed here (a user outside vitest passes a compiled .js module).

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from '../../src/cli/main.js'
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js'
import { permute } from '../../src/convert/torch-layout.js'
import { readBundleDir } from '../../src/bundle/fs.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const ckpts = join(root, 'test', 'fixtures', 'checkpoints')
const arch = join(root, 'examples', 'spark-tiny-cnn.ts')
let tmp = ''

const cli = async (...argv: string[]) => {
  const out: string[] = []
  const err: string[] = []
  const code = await run(argv, { out: (s) => out.push(s), err: (s) => err.push(s) }, { cwd: root })
  return { code, out: out.join('\n'), err }
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sparkts-convert-'))
})
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('sparkts convert', () => {
  it('the three spark_tiny_timm_style files give byte-identical bundles', async () => {
    const files = ['spark_tiny_timm_style.pth', 'spark_tiny_timm_style_legacy.pth', 'spark_tiny_timm_style.safetensors']
    for (const [i, f] of files.entries()) {
      const r = await cli('convert', join(ckpts, f), '--arch', arch, '--out', join(tmp, `b${i}`), '--strict')
      expect(r.err).toEqual([])
      expect(r.code).toBe(0)
      // 72 keys = 60 parameters/buffers + 12 num_batches_tracked (ignored); 12 conv → BN pairs fold.
      expect(r.out).toMatch(/^matched \(60\): conv1\.weight, bn1\.weight/m)
      expect(r.out).toMatch(/^ignored, deprecated\/unused buffers \(12\)$/m)
      expect(r.out).toMatch(/^folded batch norms: 12$/m)
      for (const c of ['missing', 'unexpected', 'shape-mismatched']) expect(r.out).toMatch(new RegExp(`^${c} \\(0\\)$`, 'm'))
    }
    for (const name of ['graph.json', 'weights.safetensors']) {
      const a = readFileSync(join(tmp, 'b0', name))
      for (const i of [1, 2]) expect(Buffer.compare(a, readFileSync(join(tmp, `b${i}`, name)))).toBe(0)
    }
    const b = await readBundleDir(join(tmp, 'b0'))
    expect(E.isRight(b)).toBe(true)
  })

  it('run reproduces the official dense eval features (dense_eval_from_pth) on reference and tfjs-wasm', async () => {
    const fixture = join(ckpts, 'dense_eval_from_pth.safetensors')
    const want = readSafetensors(readFileSync(fixture))
    if (E.isLeft(want)) throw new Error('fixture unreadable')
    expect(await cli('convert', join(ckpts, 'spark_tiny_timm_style.pth'), '--arch', arch, '--out', join(tmp, 'run-bundle')).then((r) => r.code)).toBe(0)
    for (const backend of ['reference', 'tfjs-wasm']) {
      const out = join(tmp, `feats-${backend}.safetensors`)
      const r = await cli('run', join(tmp, 'run-bundle'), '--input', fixture, '--output', out, '--backend', backend)
      expect(r.err).toEqual([])
      expect(r.code).toBe(0)
      const got = readSafetensors(readFileSync(out))
      if (E.isLeft(got)) throw new Error('output unreadable')
      expect([...got.right.tensors.keys()].sort()).toEqual(['features.0', 'features.1', 'features.2', 'features.3'])
      for (const k of ['features.0', 'features.1', 'features.2', 'features.3']) {
        const a = got.right.tensors.get(k)
        const b = want.right.tensors.get(k)
        if (a === undefined || b === undefined) throw new Error(k)
        expect(a.shape).toEqual(b.shape)
        const rel = relErr(a.data, b.data)
        console.log(`${backend} ${k} relative error ${rel.toExponential(2)}`)
        // Acceptance bound: float32 PyTorch vs float32 tfjs / float64 reference with folded BN, relative to ‖want‖.
        expect(rel).toBeLessThanOrEqual(1e-4)
        expect(relErr(new Float32Array(b.data.length), b.data)).toBe(1) // the reference is not all zeros
      }
    }
  })

  it('--layout nhwc gives the transposed features', async () => {
    const fixture = join(ckpts, 'dense_eval_from_pth.safetensors')
    const want = readSafetensors(readFileSync(fixture))
    if (E.isLeft(want)) throw new Error('fixture unreadable')
    const input = want.right.tensors.get('input')
    if (input === undefined || !(input.data instanceof Float32Array)) throw new Error('no input')
    const nhwc = transpose4(input.data, input.shape, [0, 2, 3, 1])
    const inPath = join(tmp, 'in-nhwc.safetensors')
    const st = writeSafetensors(new Map([['input', { dtype: 'F32', shape: nhwc.shape, data: nhwc.data }]]))
    if (E.isLeft(st)) throw new Error('write')
    writeFileSync(inPath, st.right)
    if (!existsSync(join(tmp, 'run-bundle'))) expect((await cli('convert', join(ckpts, 'spark_tiny_timm_style.pth'), '--arch', arch, '--out', join(tmp, 'run-bundle'))).code).toBe(0)
    const out = join(tmp, 'feats-nhwc.safetensors')
    const r = await cli('run', join(tmp, 'run-bundle'), '--input', inPath, '--output', out, '--layout', 'nhwc', '--backend', 'reference')
    expect(r.code).toBe(0)
    const got = readSafetensors(readFileSync(out))
    if (E.isLeft(got)) throw new Error('output unreadable')
    const f3 = got.right.tensors.get('features.3')
    const w3 = want.right.tensors.get('features.3')
    if (f3 === undefined || w3 === undefined || !(w3.data instanceof Float32Array)) throw new Error('features.3')
    expect(f3.shape).toEqual([2, 3, 3, 64])
    expect(relErr(f3.data, transpose4(w3.data, w3.shape, [0, 2, 3, 1]).data)).toBeLessThanOrEqual(1e-4)
  })
})

describe('convert/run failures: one line, non-zero exit, no output directory', () => {
  const noLeftovers = (): void => expect(readdirSync(tmp).filter((n) => n.startsWith('.') && n.includes('.tmp-'))).toEqual([])
  const cases: ReadonlyArray<readonly [string, () => string[], RegExp]> = [
    ['wrong architecture (shapes)', () => ['convert', join(ckpts, 'spark_tiny_timm_style.pth'), '--arch', 'resnet18', '--out', join(tmp, 'bad1')], /shape-mismatched key\(s\) \(conv1\.weight: \[16,3,7,7\] → \[7,7,3,64\]/],
    ['missing keys (strict)', () => ['convert', truncatedKeys(), '--arch', arch, '--out', join(tmp, 'bad2'), '--strict'], /missing backbone key\(s\) \(layer4\.0\.conv1\.weight/],
    ['truncated file', () => ['convert', truncatedFile(), '--arch', arch, '--out', join(tmp, 'bad3')], /truncated|corrupt/i],
    ['unknown arch', () => ['convert', join(ckpts, 'spark_tiny_timm_style.pth'), '--arch', 'resnet5O', '--out', join(tmp, 'bad4')], /unknown model 'resnet5O'/],
    ['head on a pretraining file, strict', () => ['convert', join(ckpts, 'spark_tiny_timm_style.pth'), '--arch', arch, '--out', join(tmp, 'bad5'), '--strict', '--num-classes', '10'], /spark_tiny_resnet has no classification head/],
  ]
  for (const [label, argv, msg] of cases)
    it(label, async () => {
      const args = argv()
      const out = args[args.indexOf('--out') + 1] ?? ''
      const r = await cli(...args)
      expect(r.code).toBe(1)
      expect(r.err).toHaveLength(1)
      expect(r.err[0]).toMatch(/^sparkts: error: /)
      expect(r.err[0]).toMatch(msg)
      expect(existsSync(out)).toBe(false)
      noLeftovers()
    })

  it('refuses a non-empty output directory and leaves it untouched', async () => {
    const out = join(tmp, 'occupied')
    mkdirSync(out)
    writeFileSync(join(out, 'keep.txt'), 'x')
    const r = await cli('convert', join(ckpts, 'spark_tiny_timm_style.pth'), '--arch', arch, '--out', out)
    expect(r.code).toBe(1)
    expect(r.err[0]).toMatch(/exists and is not empty/)
    expect(readdirSync(out)).toEqual(['keep.txt'])
  })

  it('run: a modified bundle, a missing input tensor and an image are one-line errors', async () => {
    const dir = join(tmp, 'tamper')
    expect((await cli('convert', join(ckpts, 'spark_tiny_timm_style.safetensors'), '--arch', arch, '--out', dir)).code).toBe(0)
    const noInput = join(tmp, 'no-input.safetensors')
    const st = writeSafetensors(new Map([['x', { dtype: 'F32', shape: [1], data: new Float32Array([1]) }]]))
    if (E.isLeft(st)) throw new Error('write')
    writeFileSync(noInput, st.right)
    const r1 = await cli('run', dir, '--input', noInput, '--output', join(tmp, 'o1.safetensors'), '--backend', 'reference')
    expect(r1.err).toEqual([expect.stringMatching(/^sparkts: error: .*no tensor named 'input'/)])
    const r2 = await cli('run', dir, '--input', 'cat.png', '--output', join(tmp, 'o2.safetensors'))
    expect(r2.err).toEqual([expect.stringMatching(/^sparkts: error: cannot read 'cat\.png'/)]) // images are inputs now; this one does not exist
    const g = join(dir, 'graph.json')
    const text = readFileSync(g, 'utf8')
    const tampered = text.replace('"strides":[2,2]', '"strides":[1,1]')
    expect(tampered).not.toBe(text)
    writeFileSync(g, tampered)
    const r3 = await cli('run', dir, '--input', join(ckpts, 'dense_eval_from_pth.safetensors'), '--output', join(tmp, 'o3.safetensors'), '--backend', 'reference')
    expect(r3.err).toEqual([expect.stringMatching(/^sparkts: error: graph\.json does not match the SHA-256/)])
    for (const r of [r1, r2, r3]) expect(r.code).toBe(1)
    for (const o of ['o1', 'o2', 'o3']) expect(existsSync(join(tmp, `${o}.safetensors`))).toBe(false)
  })
})

/** ‖a − b‖∞ / ‖b‖∞ (max-norm relative error: every element within the bound of the largest magnitude). */
const relErr = (a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): number => {
  let d = 0
  let m = 0
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(Number(a[i]) - Number(b[i])))
    m = Math.max(m, Math.abs(Number(b[i])))
  }
  return d / m
}

const transpose4 = (data: Float32Array, shape: ReadonlyArray<number>, perm: ReadonlyArray<number>) => permute({ shape, data }, perm)

/** The timm-style safetensors file without layer4.0.conv1.weight. */
const truncatedKeys = (): string => {
  const src = readSafetensors(readFileSync(join(ckpts, 'spark_tiny_timm_style.safetensors')))
  if (E.isLeft(src)) throw new Error('fixture')
  const t = new Map(src.right.tensors)
  t.delete('layer4.0.conv1.weight')
  const st = writeSafetensors(t)
  if (E.isLeft(st)) throw new Error('write')
  const p = join(tmp, 'missing-key.safetensors')
  writeFileSync(p, st.right)
  return p
}

/** The zip .pth cut at 60 % of its length. */
const truncatedFile = (): string => {
  const b = readFileSync(join(ckpts, 'spark_tiny_timm_style.pth'))
  const p = join(tmp, 'truncated.pth')
  writeFileSync(p, b.subarray(0, Math.floor(b.length * 0.6)))
  return p
}
