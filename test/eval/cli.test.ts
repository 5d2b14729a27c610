// `sparkts probe` / `sparkts finetune` in-process on a tiny built-in subset (--per-class 3: 30 train and 30
// test images): exit codes, JSON lines with accuracies in [0, 1], a checkpoint holding exactly the seed-5
// random weights reproduces `--seed 5` bit for bit (the BackboneParams contract, prefix stripped), and
// clear one-line failures for a checkpoint of another model, an empty folder and a missing file.

import * as E from 'fp-ts/lib/Either.js'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { writeSafetensors } from '../../src/checkpoint/index.js'
import type { TensorData } from '../../src/checkpoint/index.js'
import { run } from '../../src/cli/main.js'
import { pooledFeatureGraph } from '../../src/eval/features.js'
import { initParams } from '../../src/ir/init.js'
import { findModel } from '../../src/models/zoo.js'

const dir = mkdtempSync(join(tmpdir(), 'sparkts-eval-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cli = async (args: ReadonlyArray<string>): Promise<{ readonly code: number; readonly out: string[]; readonly err: string[] }> => {
  const out: string[] = []
  const err: string[] = []
  const code = await run(args, { out: (s) => out.push(s), err: (s) => err.push(s) })
  return { code, out, err }
}

const tiny = ['--per-class', '3', '--json']

const saveParams = (file: string, params: ReadonlyMap<string, { readonly shape: ReadonlyArray<number>; readonly data: Float32Array }>, prefix: string): void => {
  const m = new Map<string, TensorData>([...params].map(([k, t]) => [`${prefix}${k}`, { dtype: 'F32', shape: t.shape, data: t.data }]))
  m.set('decoder.0.weight', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }) // an unrelated key is ignored
  const bytes = writeSafetensors(m)
  if (E.isLeft(bytes)) throw new Error('writeSafetensors')
  writeFileSync(file, bytes.right)
}

describe('sparkts probe / finetune (in-process, tiny subset)', () => {
  it('probe prints one JSON line with accuracies; a checkpoint of the seed-5 weights reproduces --seed 5 exactly', async () => {
    const a = await cli(['probe', ...tiny, '--seed', '5', '--iterations', '50'])
    expect(a.err).toEqual([])
    expect(a.code).toBe(0)
    const ra = JSON.parse(a.out[0] ?? '{}')
    expect(ra).toMatchObject({ command: 'probe', model: 'resnet_small', features: 'last', trainImages: 30, testImages: 30, featureDim: 128 })
    expect(ra.testAccuracy).toBeGreaterThanOrEqual(0)
    expect(ra.testAccuracy).toBeLessThanOrEqual(1)
    // 30 train images, 128 standardised features: the fit separates the train set (a real fit happened).
    expect(ra.trainAccuracy).toBeGreaterThan(0.9)

    const bb = findModel('resnet_small')?.create()
    if (bb === undefined) throw new Error('resnet_small')
    const g = pooledFeatureGraph(bb, 32, 250, 'last')
    if (E.isLeft(g)) throw new Error(g.left)
    const ckpt = join(dir, 'seed5.safetensors')
    saveParams(ckpt, initParams(g.right, 5), 'sparse_encoder.sp_cnn.')
    const b = await cli(['probe', ...tiny, '--seed', '0', '--iterations', '50', '--checkpoint', ckpt])
    expect(b.code).toBe(0)
    const rb = JSON.parse(b.out[0] ?? '{}')
    expect(rb.weights).toBe(ckpt)
    expect([rb.trainAccuracy, rb.testAccuracy]).toEqual([ra.trainAccuracy, ra.testAccuracy])

    const all = await cli(['probe', ...tiny, '--features', 'all', '--iterations', '20'])
    expect(JSON.parse(all.out[0] ?? '{}').featureDim).toBe(16 + 32 + 64 + 128)
  })

  it('finetune trains one epoch and prints a JSON line; text mode prints the accuracy line', async () => {
    const r = await cli(['finetune', ...tiny, '--epochs', '1', '--batch-size', '10', '--seed', '1'])
    expect(r.err).toEqual([])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.out[0] ?? '{}')
    expect(j).toMatchObject({ command: 'finetune', model: 'resnet_small', epochs: 1, batchSize: 10, steps: 3, trainImages: 30, testImages: 30 })
    expect(Number.isFinite(j.finalLoss) && j.finalLoss > 0).toBe(true)
    expect(j.testAccuracy).toBeGreaterThanOrEqual(0)
    expect(j.testAccuracy).toBeLessThanOrEqual(1)
    const t = await cli(['finetune', '--per-class', '2', '--epochs', '1', '--batch-size', '10'])
    expect(t.code).toBe(0)
    expect(t.out.join('\n')).toMatch(/test accuracy \d+\.\d\d%/)
  })

  it('one-line failures: checkpoint of another model, empty data folder, missing checkpoint', async () => {
    const other = findModel('resnet18_small')?.create()
    if (other === undefined) throw new Error('resnet18_small')
    const g = pooledFeatureGraph({ ...other, inChannels: 1 }, 32, 1, 'last')
    if (E.isLeft(g)) throw new Error(g.left)
    const wrong = new Map([...initParams(g.right, 0)].filter(([k]) => !k.startsWith('layer4.')))
    const ckpt = join(dir, 'wrong.safetensors')
    saveParams(ckpt, wrong, '')
    const a = await cli(['probe', ...tiny, '--checkpoint', ckpt])
    expect(a.code).toBe(1)
    expect(a.err.join('\n')).toMatch(/^sparkts: error: checkpoint has no tensor 'layer4\.0\.conv1\.weight'/)
    const empty = join(dir, 'empty')
    mkdirSync(empty)
    const b = await cli(['finetune', '--data', empty, '--epochs', '1'])
    expect(b.code).toBe(1)
    expect(b.err.join('\n')).toMatch(/no PNG or JPEG images found/)
    const c = await cli(['probe', '--checkpoint', join(dir, 'nope.safetensors'), ...tiny])
    expect(c.code).toBe(1)
    expect(c.err).toHaveLength(1)
  })
})
