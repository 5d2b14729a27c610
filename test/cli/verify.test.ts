// `sparkts verify` in-process through `run(argv, io, deps)`: a small custom module passes (table and --json,
// tfjs-wasm and reference), a leaking module fails in one line naming the sigmoid, a backend whose outputs are
// off by 1e-3 makes b and c FAIL (exit 1, the table is still printed), and bad settings fail in one line.
// Thresholds are the library's (tolerancesFor); nothing here asserts speed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Backend, TensorMap } from '../../src/backends/backend.js'
import { referenceBackend } from '../../src/backends/reference/index.js'
import { run } from '../../src/cli/main.js'

const tinyCnn = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tiny-cnn.js')

const capture = () => {
  const out: string[] = []
  const err: string[] = []
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err }
}

// A user module whose sigmoid output is added to a spatial value (σ(0) = ½ leaks into masked positions).
const leakySource = `export default {
  name: 'leaky_cnn', family: 'custom', downsampleRatio: 2, featureChannels: [4], inChannels: 3,
  features: (x) => {
    const b = x.builder
    const w = b.param('conv.weight', [3, 3, 3, 4], { kind: 'normal', std: 0.1 })
    const y = b.node('conv2d', [x, w], { strides: [2, 2], padding: [[1, 1], [1, 1]], dilations: [1, 1], groups: 1 }, 'conv')
    const g = b.node('sigmoid', [y], {}, 'blk.gate')
    return [b.node('add', [y, g], {}, 'blk.add')]
  },
}
`
let dir = ''
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sparkts-verify-'))
  writeFileSync(join(dir, 'leaky-cnn.js'), leakySource)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const rows = (out: ReadonlyArray<string>): string[] => out.join('\n').split('\n').filter((l) => /^[abce] {2}/.test(l))

describe('sparkts verify', () => {
  it('a small custom module passes on tfjs-wasm: four PASS rows, exit 0, progress on stderr', async () => {
    const c = capture()
    const code = await run(['verify', tinyCnn, '--input-size', '16', '--runs', '2', '--seed', '3'], c.io)
    expect(code, c.err.join('\n')).toBe(0)
    const r = rows(c.out)
    expect(r.map((l) => l[0])).toEqual(['a', 'b', 'c', 'e'])
    for (const l of r) expect(l, l).toMatch(/ PASS$/)
    expect(c.out.join('\n')).toMatch(/sparkts verify tiny_cnn: image 2x16x16x3, mask grid 4x4 \(ratio 0\.6: 6 of 16 cells visible\), 2 run\(s\), seed 3, backend tfjs-wasm/)
    expect(c.out.join('\n')).toMatch(/PASS: all 4 properties hold/)
    expect(c.err.filter((l) => /^sparkts verify: run \d\/2: /.test(l))).toHaveLength(2)
    expect(c.err.some((l) => /error/.test(l))).toBe(false)
  })

  it('--json prints one JSON object; on the reference backend b and e are exact', async () => {
    const c = capture()
    const code = await run(['verify', tinyCnn, '--input-size', '8', '--batch-size', '1', '--runs', '2', '--mask-ratio', '0.5', '--backend', 'reference', '--json'], c.io)
    expect(code, c.err.join('\n')).toBe(0)
    expect(c.out).toHaveLength(1)
    const j = JSON.parse(c.out[0] ?? '') as { pass: boolean; backend: string; image: number[]; keep: number; properties: Array<{ id: string; pass: boolean; tolerance: number; worst: number; failures: number }> }
    expect([j.pass, j.backend, j.image, j.keep]).toEqual([true, 'reference', [1, 8, 8, 3], 2])
    expect(j.properties.map((p) => [p.id, p.pass, p.failures])).toEqual([['a', true, 0], ['b', true, 0], ['c', true, 0], ['e', true, 0]])
    expect(j.properties.filter((p) => p.id === 'b' || p.id === 'e').map((p) => p.tolerance)).toEqual([0, 0])
  })

  it('a leaking module fails in one line naming the sigmoid and the add, before any run', async () => {
    const c = capture()
    const code = await run(['verify', join(dir, 'leaky-cnn.js'), '--input-size', '8'], c.io)
    expect(code).toBe(1)
    expect(c.out).toEqual([])
    expect(c.err).toHaveLength(1)
    expect(c.err[0]).toMatch(/^sparkts: error: sparsify leaky_cnn: node %\d+ 'blk\.gate' \(sigmoid\): is non-zero at masked positions \(leaky\) and reaches node %\d+ 'blk\.add' \(add\)/)
  })

  it('a backend whose outputs are off by 1e-3 fails b and c: the table is printed and the exit code is 1', async () => {
    const offset = (m: TensorMap): TensorMap => new Map([...m].map(([k, t]) => [k, { shape: t.shape, data: t.data.map((v) => v + 1e-3) }] as const))
    const skewed: Backend = {
      ...referenceBackend,
      compile: (g, o) => E.map((exe: ReturnType<Backend['compile']> extends E.Either<unknown, infer X> ? X : never) => ({ ...exe, run: async (ins: TensorMap) => offset(await exe.run(ins)) }))(referenceBackend.compile(g, o)),
    }
    const c = capture()
    const code = await run(['verify', tinyCnn, '--input-size', '8', '--runs', '1', '--backend', 'reference'], c.io, { loadBackend: async () => E.right(skewed) })
    expect(code).toBe(1)
    expect(rows(c.out).map((l) => `${l[0]} ${l.endsWith('PASS') ? 'PASS' : 'FAIL'}`)).toEqual(['a PASS', 'b FAIL', 'c FAIL', 'e PASS'])
    expect(c.out.join('\n')).toMatch(/FAIL: b, c/)
    expect(c.err[c.err.length - 1]).toMatch(/^sparkts: error: verify tiny_cnn: b FAIL \(worst 1\.00e-3, tolerance 0\), c FAIL \(worst \d\.\d\de-[34], tolerance 0\.000001\)$/)
  })

  it('bad settings fail in one line: ratio outside (0, 1) is a usage error; sizes and ratios that leave no masked cell are failures', async () => {
    const usage = capture()
    expect(await run(['verify', tinyCnn, '--mask-ratio', '1'], usage.io)).toBe(2)
    expect(usage.err.join('\n')).toMatch(/--mask-ratio.*strictly between 0 and 1/)
    const size = capture()
    expect(await run(['verify', tinyCnn, '--input-size', '18', '--backend', 'reference'], size.io)).toBe(1)
    expect(size.err).toEqual(['sparkts: error: input size 18x18 is not a multiple of the downsample ratio 4'])
    const all = capture()
    expect(await run(['verify', tinyCnn, '--input-size', '8', '--mask-ratio', '0.01', '--backend', 'reference'], all.io)).toBe(1)
    expect(all.err).toHaveLength(1)
    expect(all.err[0]).toMatch(/keeps 4 of the 2x2 = 4 mask cells; b and e need at least one visible and one masked cell/)
    const unknown = capture()
    expect(await run(['verify', 'resnt18'], unknown.io)).toBe(1)
    expect(unknown.err).toEqual([expect.stringMatching(/^sparkts: error: unknown model 'resnt18'; closest: resnet18/)])
  })
})
