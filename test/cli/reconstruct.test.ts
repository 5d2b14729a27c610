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
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js'
import type { TensorData } from '../../src/checkpoint/types.js'

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
