import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as fc from 'fast-check'
import { fileURLToPath } from 'node:url'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Backend } from '../../src/backends/backend.js'
import type { Backbone } from '../../src/models/backbone.js'
import { zoo } from '../../src/models/zoo.js'
import { inferTypes } from '../../src/ir/infer.js'
import { closestNames, editDistance, looksLikePath, resolveModel, checkBackbone } from '../../src/cli/resolve.js'
import { formatSummary, inspectBackbone, renderInspection } from '../../src/cli/inspect.js'
import { formatModels, modelRows } from '../../src/cli/models.js'
import { median, runBench, timingStats } from '../../src/cli/bench.js'
import { run } from '../../src/cli/main.js'

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures')
const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED'])
const fcOpts = seed === undefined ? {} : { seed }

const capture = () => {
  const out: string[] = []
  const err: string[] = []
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err }
}

const tinyCnn = async (): Promise<Backbone> => {
  const r = await resolveModel(join(fixtures, 'tiny-cnn.js'), {})
  if (E.isLeft(r)) throw new Error(r.left)
  return r.right
}

describe('resolve', () => {
  it('edit distance: known values and metric properties', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('resnet5', 'resnet50')).toBe(1)
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (a, b) =>
        editDistance(a, b) === editDistance(b, a) && (editDistance(a, b) === 0) === (a.toLowerCase() === b.toLowerCase()) && editDistance(a, b) <= Math.max(a.length, b.length),
      ),
      { numRuns: 200, ...fcOpts },
    )
  })

  it('closest names rank typos first', () => {
    expect(closestNames('resnet5', ['convnext_tiny', 'resnet50', 'resnet18', 'resnet152'])).toEqual(['resnet50', 'resnet152', 'resnet18'])
    expect(closestNames('convnxt_tiny', ['convnext_tiny', 'resnet50'], 1)).toEqual(['convnext_tiny'])
  })

  it('paths versus names', () => {
    expect(looksLikePath('./my-cnn.js')).toBe(true)
    expect(looksLikePath('model.mjs')).toBe(true)
    expect(looksLikePath('resnet50')).toBe(false)
  })

  it('unknown names list the closest zoo names; an empty zoo says so', async () => {
    const entry = { description: 'x', create: () => { throw new Error('unused') } }
    const r = await resolveModel('resnt50', { resnet50: entry, resnet18: entry, convnext_tiny: entry })
    expect(r).toEqual(E.left("unknown model 'resnt50'; closest: resnet50, resnet18, convnext_tiny (see 'sparkts models')"))
    expect(await resolveModel('resnet50', {})).toEqual(E.left("unknown model 'resnet50' (the model zoo is empty)"))
  })

  it('loads a custom module (named `backbone` export) and rejects wrong exports and missing files', async () => {
    expect((await tinyCnn()).name).toBe('tiny_cnn')
    const bad = await resolveModel(join(fixtures, 'not-a-backbone.js'), {})
    expect(E.isLeft(bad) && bad.left).toMatch(/not a Backbone: missing or wrong features \(function\), downsampleRatio/)
    const missing = await resolveModel('./no/such/file.js', {})
    expect(missing).toEqual(E.left('no such file: ./no/such/file.js'))
    expect(E.isLeft(checkBackbone(null))).toBe(true)
  })
})

describe('inspect', () => {
  it('custom CNN: closed-form params, MACs and feature shapes (see the fixture header)', async () => {
    const bb = await tinyCnn()
    for (const s of [16, 32]) {
      const r = inspectBackbone(bb, { inputSize: s, numClasses: 0 })
      expect(E.isRight(r)).toBe(true)
      if (E.isLeft(r)) return
      expect(r.right.summary).toEqual({
        model: 'tiny_cnn',
        family: 'custom',
        input: [s, s, 3],
        numClasses: 0,
        trainableParams: 1424,
        nonTrainableParams: 48,
        macsPerImage: (s / 2) ** 2 * 8 * 3 * 9 + (s / 4) ** 2 * 16 * 8 * 9,
        downsampleRatio: 4,
        features: [[s / 2, s / 2, 8], [s / 4, s / 4, 16]],
      })
    }
  })

  it('the malformed fixture fails with node, op and both shapes', async () => {
    const bb = await resolveModel(join(fixtures, 'bad-conv.js'), {})
    if (E.isLeft(bb)) throw new Error(bb.left)
    const r = inspectBackbone(bb.right, { inputSize: 32, numClasses: 0 })
    expect(E.isLeft(r) && r.left).toMatchObject({ _tag: 'ShapeMismatch', node: { op: 'conv2d', name: 'conv1' }, shapes: [['x', [1, 32, 32, 3]], ['w', [3, 3, 4, 8]]] })
  })

  it('renders summary, JSON, graph text and DOT', async () => {
    const r = inspectBackbone(await tinyCnn(), { inputSize: 8, numClasses: 0 })
    if (E.isLeft(r)) throw new Error('build failed')
    expect(formatSummary(r.right.summary)).toContain('trainable params      1,424')
    expect(JSON.parse(renderInspection(r.right, 'json'))).toEqual(r.right.summary)
    expect(renderInspection(r.right, 'text')).toContain('conv2d(%0, %1, %2) {dilations=[1,1], groups=1, padding=[[1,1],[1,1]], strides=[2,2]} : [1,4,4,8]  # stage1.conv')
    expect(renderInspection(r.right, 'dot')).toMatch(/^digraph "tiny_cnn" \{[\s\S]*\}$/)
    expect(formatSummary({ ...r.right.summary, input: [10, 10, 3] })).toContain('not a multiple of the downsample ratio 4')
  })

  it.skipIf(!('resnet50' in zoo))('resnet50 at 224: timm figures', () => {
    const e = zoo['resnet50']
    if (e === undefined) return
    const r = inspectBackbone(e.create(), { inputSize: 224, numClasses: 1000 })
    if (E.isLeft(r)) throw new Error('resnet50 failed to build')
    // 25,557,032 = torchvision/timm resnet50 with fc; 23,508,032 without (fc = 2048·1000 + 1000).
    expect(r.right.summary.trainableParams).toBe(25_557_032)
    expect(r.right.summary.features).toEqual([[56, 56, 256], [28, 28, 512], [14, 14, 1024], [7, 7, 2048]])
    expect(r.right.summary.logits).toEqual([1000])
    // conv + fc MACs of ResNet-50 v1.5 at 224 (the commonly quoted 4.09 GMACs).
    expect(r.right.summary.macsPerImage).toBe(4_089_184_256)
    expect(E.isRight(inferTypes(r.right.graph))).toBe(true)
  })
})

describe('models', () => {
  it('formats a sorted table with family and description', () => {
    const mk = (family: Backbone['family']) => ({ description: `a ${family}`, create: () => ({ family }) as Backbone })
    const rows = modelRows({ resnet50: mk('resnet'), convnext_tiny: mk('convnext'), resnet18: mk('resnet') })
    expect(rows.map((r) => r.name)).toEqual(['convnext_tiny', 'resnet18', 'resnet50'])
    expect(formatModels(rows).split('\n')).toEqual([
      'NAME           FAMILY    DESCRIPTION',
      'convnext_tiny  convnext  a convnext',
      'resnet18       resnet    a resnet',
      'resnet50       resnet    a resnet',
    ])
    expect(formatModels([])).toBe('(the model zoo is empty)')
  })
})

describe('bench statistics', () => {
  it('median of odd and even lists, order independent', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.001, max: 10, noNaN: true }), { minLength: 1, maxLength: 15 }), (xs) => {
        const m = median(xs)
        return m === median([...xs].reverse()) && m >= Math.min(...xs) && m <= Math.max(...xs)
      }),
      { numRuns: 100, ...fcOpts },
    )
  })

  it('GFLOP/s = 2·MACs·batch / median; images/s = batch / median', () => {
    const s = timingStats([0.5, 0.25, 1, 0.5, 2], 4, 1e9)
    expect(s).toEqual({ medianSeconds: 0.5, minSeconds: 0.25, imagesPerSecond: 8, gflops: 16 })
  })

  it('runBench compiles once with the given shapes and random params, then runs warmup + runs times', async () => {
    const bb = await tinyCnn()
    const calls: string[] = []
    const fake: Backend = {
      name: 'reference',
      init: async () => E.right(undefined),
      describe: () => ({ backend: 'fake', threads: 3 }),
      compile: (g, o) => {
        calls.push(`compile ${JSON.stringify(o.inputShapes)} ${o.params.size} params, nonzero=${[...o.params.values()].some((t) => t.data.some((v) => v !== 0 && v !== 1))}`)
        const types = inferTypes(g, o.inputShapes)
        if (E.isLeft(types)) return types
        return E.right({ types: types.right, run: async (ins) => (calls.push(`run ${ins.get('input')?.data.some((v) => v !== 0)}`), new Map()), dispose: () => calls.push('dispose') })
      },
    }
    const r = await runBench(bb, 'reference', async () => E.right(fake), { inputSize: 16, batch: 2, runs: 5, warmup: 2, numClasses: 0, seed: 0 })
    if (E.isLeft(r)) throw new Error(r.left)
    expect(calls).toEqual(['compile {"input":[2,16,16,3]} 11 params, nonzero=true', ...Array(7).fill('run true'), 'dispose'])
    expect(r.right).toMatchObject({ model: 'tiny_cnn', inputSize: 16, batch: 2, backend: 'reference', threads: 3, runs: 5, warmup: 2, macsPerImage: 8 * 8 * 8 * 27 + 4 * 4 * 16 * 72 })
    expect(r.right.seconds).toHaveLength(5)
    // Both sides come from the same rounded median (6 significant digits), so they agree to that precision.
    expect(r.right.gflops).toBeCloseTo((2 * r.right.macsPerImage * 2) / r.right.medianSeconds / 1e9, 0)
  })
})

describe('run (in-process CLI)', () => {
  it('inspect --json of a custom module prints one JSON object', async () => {
    const c = capture()
    expect(await run(['inspect', join(fixtures, 'tiny-cnn.js'), '--input-size', '8', '--json'], c.io, { zoo: {} })).toBe(0)
    expect(c.err).toEqual([])
    expect(c.out).toHaveLength(1)
    expect(JSON.parse(c.out[0] ?? '')).toMatchObject({ model: 'tiny_cnn', trainableParams: 1424, features: [[4, 4, 8], [2, 2, 16]] })
  })

  it('usage errors and failures are one `sparkts: error:` line with exit codes 2 and 1', async () => {
    const cases: Array<[ReadonlyArray<string>, number, RegExp]> = [
      [['inspect', 'x.js', '--input-size', '0'], 2, /^sparkts: error: option '--input-size <n>' argument '0' is invalid/],
      [['inspect'], 2, /^sparkts: error: missing required argument 'model'$/],
      [['frobnicate'], 2, /^sparkts: error: unknown command 'frobnicate'$/],
      [['inspect', 'nope'], 1, /^sparkts: error: unknown model 'nope' \(the model zoo is empty\)$/],
      [['inspect', join(fixtures, 'bad-conv.js')], 1, /^sparkts: error: node %2 'conv1' \(conv2d\): .*x \[1,224,224,3\], w \[3,3,4,8\]$/],
      [['bench', '--model', 'x', '--runs', '4'], 2, /^sparkts: error: option '--runs <n>' argument '4' is invalid. expected an integer >= 5$/],
      [['bench', '--model', 'x', '--backend', 'gpu'], 2, /^sparkts: error: option '--backend <name>' argument 'gpu' is invalid/],
    ]
    for (const [argv, code, msg] of cases) {
      const c = capture()
      expect(await run(argv, c.io, { zoo: {} })).toBe(code)
      expect(c.out).toEqual([])
      expect(c.err).toHaveLength(1)
      expect(c.err[0]).toMatch(msg)
    }
  })

  it('--version prints the package version', async () => {
    const c = capture()
    expect(await run(['--version'], c.io, { zoo: {} })).toBe(0)
    expect(c.out).toEqual([JSON.parse(readFileSync(join(fixtures, '..', '..', 'package.json'), 'utf8')).version])
  })

  it('--help on every command exits 0 and lists its options', async () => {
    for (const [cmd, opts] of [['models', ['--json']], ['inspect', ['--input-size', '--num-classes', '--json', '--format', '<model>']], ['bench', ['--model', '--batch-size', '--backend', '--runs', '--warmup', '--threads']]] as const) {
      const c = capture()
      expect(await run([cmd, '--help'], c.io, { zoo: {} })).toBe(0)
      for (const o of opts) expect(c.out.join('\n')).toContain(o)
    }
  })
})
