// Dense model bundles: byte-level encode/decode round trip, determinism, what decoding refuses (format
// version, unknown op, malformed params, graphs that do not verify, weights that disagree with the graph,
// modified files), and atomic directory writing (a failure leaves neither the target nor a temp dir).

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Manifest } from '../../src/bundle/bundle.js'
import { decodeBundle, encodeBundle } from '../../src/bundle/bundle.js'
import { readBundleDir, writeBundleDir, writeDirAtomic } from '../../src/bundle/fs.js'
import { graphFromJson, graphToJson } from '../../src/bundle/graph-json.js'
import { readCheckpoint } from '../../src/checkpoint/read.js'
import type { ConvertedModel } from '../../src/convert/convert.js'
import { convertCheckpoint } from '../../src/convert/convert.js'
import { pipe } from 'fp-ts/lib/function.js'
import { globalAvgPool, linear } from '../../src/models/layers.js'
import { sparkTinyCnn } from '../../examples/spark-tiny-cnn.js'

// The fixture CNN plus a timm-style `fc` head, so the bundle has a `logits` output and initialised head params.
const withHead = { ...sparkTinyCnn, head: (last: Parameters<typeof globalAvgPool>[0], n: number) => pipe(last, globalAvgPool, linear('fc', n)) }

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
let tmp = ''
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sparkts-bundle-'))
})
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const converted = ((): ConvertedModel => {
  const c = readCheckpoint(readFileSync(join(root, 'test', 'fixtures', 'checkpoints', 'spark_tiny_timm_style.pth')))
  if (E.isLeft(c)) throw new Error('fixture')
  const m = convertCheckpoint(c.right, withHead, { numClasses: 5, strict: false })
  if (E.isLeft(m)) throw new Error(m.left)
  return m.right
})()

const manifest = (created: string): Omit<Manifest, 'files'> => ({
  format: 'sparkts-bundle',
  version: 1,
  sparkts: 'test',
  created,
  source: { file: 'x.pth', sha256: '00', format: 'pth-zip', wrapper: null },
  arch: { spec: 'x', name: 'spark_tiny_resnet', family: 'resnet', inChannels: 3, downsampleRatio: 32, featureChannels: [16, 32, 48, 64], featureStrides: [4, 8, 16, 32], numClasses: 5 },
  input: 'input',
  outputs: converted.graph.outputs.map((o) => o.name),
  conversion: converted.report,
})

const encode = async (created = '2024-01-01T00:00:00.000Z', params = converted.params) => {
  const b = await encodeBundle(converted.graph, params, manifest(created))
  if (E.isLeft(b)) throw new Error(b.left)
  return b.right
}

describe('bundle bytes', () => {
  it('round-trips graph, parameters and manifest; the head (missing in a SparK file) is initialised', async () => {
    expect(converted.report.initialised).toEqual(['fc.weight', 'fc.bias'])
    const d = await decodeBundle(await encode())
    if (E.isLeft(d)) throw new Error(d.left)
    expect(graphToJson(d.right.graph)).toBe(graphToJson(converted.graph))
    expect([...d.right.params.keys()].sort()).toEqual([...converted.params.keys()].sort())
    for (const [k, v] of converted.params) expect(d.right.params.get(k), k).toEqual(v)
    expect(d.right.manifest.arch.featureStrides).toEqual([4, 8, 16, 32])
    expect(d.right.manifest.conversion.foldedBatchNorms).toBe(12)
  })

  it('is deterministic: graph and weights bytes do not depend on the creation time', async () => {
    const [a, b] = [await encode('2024-01-01T00:00:00.000Z'), await encode('2025-06-30T12:00:00.000Z')]
    expect(Buffer.compare(a.graph, b.graph)).toBe(0)
    expect(Buffer.compare(a.weights, b.weights)).toBe(0)
    expect(Buffer.compare(a.manifest, b.manifest)).not.toBe(0)
  })

  it('refuses modified files and weights that disagree with the graph', async () => {
    const good = await encode()
    const flipped = new Uint8Array(good.weights)
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1
    expect(await decodeBundle({ ...good, weights: flipped })).toEqual(E.left(expect.stringMatching(/^weights\.safetensors does not match the SHA-256/)))
    const w = converted.params.get('conv1.weight')
    if (w === undefined) throw new Error('conv1.weight')
    const bad = await encode(undefined, new Map([...converted.params, ['conv1.weight', { shape: [7, 7, 1, 48], data: w.data }]]))
    expect(await decodeBundle(bad)).toEqual(E.left("weights.safetensors: 'conv1.weight' has shape [7,7,1,48], the graph declares [7,7,3,16]"))
    const fewer = new Map(converted.params)
    fewer.delete('fc.bias')
    expect(await decodeBundle(await encode(undefined, fewer))).toEqual(E.left("weights.safetensors has no tensor for parameter 'fc.bias'"))
    expect(await decodeBundle({ ...good, manifest: new TextEncoder().encode('{"format":"sparkts-bundle","version":2}') })).toEqual(E.left(expect.stringMatching(/manifest version 2 is not supported/)))
  })
})

describe('graph.json validation', () => {
  const text = graphToJson(converted.graph)
  it('reads back what it writes', () => expect(E.map(graphToJson)(graphFromJson(text))).toEqual(E.right(text)))
  const cases: ReadonlyArray<readonly [string, (s: string) => string, RegExp]> = [
    ['version', (s) => s.replace('"version":1', '"version":9'), /format version 9 is not supported/],
    ['unknown op', (s) => s.replace('"op":"relu"', '"op":"teleport"'), /node #\d+ is malformed/],
    ['malformed params', (s) => s.replace('"groups":1', '"groups":"one"'), /\(conv2d\) has malformed params/],
    ['extra param field', (s) => s.replace('"groups":1', '"groups":1,"evil":true'), /\(conv2d\) has malformed params/],
    ['shape rule violated', (s) => s.replace('"shape":[7,7,3,16]', '"shape":[7,7,4,16]'), /input channels 3 != weight in-channels 4/],
    ['not JSON', (s) => s.slice(0, 100), /graph\.json is not JSON/],
  ]
  for (const [label, edit, msg] of cases)
    it(label, () => {
      const edited = edit(text)
      expect(edited).not.toBe(text)
      const r = graphFromJson(edited)
      expect(E.isLeft(r) && r.left).toMatch(msg)
    })
})

describe('bundle directories', () => {
  it('writes and reads a bundle directory', async () => {
    const dir = join(tmp, 'ok')
    expect(await writeBundleDir(dir, await encode())).toEqual(E.right(dir))
    expect(readdirSync(dir).sort()).toEqual(['graph.json', 'manifest.json', 'weights.safetensors'])
    expect(E.isRight(await readBundleDir(dir))).toBe(true)
  })

  it('a failing write leaves neither the target nor a temporary directory', async () => {
    const dir = join(tmp, 'fails')
    const r = await writeDirAtomic(dir, new Map([['graph.json', new Uint8Array([1])], ['no/such/dir/file', new Uint8Array([2])]]))
    expect(E.isLeft(r) && r.left).toMatch(/^writing '.*fails': ENOENT/)
    expect(existsSync(dir)).toBe(false)
    expect(readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([])
  })
})
