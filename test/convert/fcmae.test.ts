// ConvNeXt-V2 FCMAE (MinkowskiEngine) → dense: the kernel index convention pinned on hand-worked 2×2 cases,
// the inverse pair as a round trip, and a whole synthetic FCMAE state dict — made from a small dense
// ConvNeXt-V2 by the inverse formulas, with the pretraining-only decoder keys — converting back to exactly
// the dense weights. A dense (official) ConvNeXt-V2 dict with GRN (1,1,1,C) converts too.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import type { Checkpoint, TensorData } from '../../src/checkpoint/types.js'
import { convertCheckpoint } from '../../src/convert/convert.js'
import { denseToMinkowski, minkowskiToDense, remapSparseKey } from '../../src/convert/fcmae.js'
import { mapKeys } from '../../src/convert/keys.js'
import { permute, torchLayouts } from '../../src/convert/torch-layout.js'
import { initParams } from '../../src/ir/init.js'
import type { HostTensor } from '../../src/ir/types.js'
import { buildBackbone } from '../../src/models/backbone.js'
import { convnextLike } from '../../src/models/convnext.js'

const fcSeed = (): { readonly seed?: number } => (process.env['FC_SEED'] === undefined ? {} : { seed: Number(process.env['FC_SEED']) })
const t = (shape: number[], data: number[]): HostTensor => ({ shape, data: Float32Array.from(data) })
const td = (h: HostTensor): TensorData => ({ dtype: 'F32', shape: h.shape, data: h.data })

describe('MinkowskiEngine kernel layouts', () => {
  it('2×2 kernels: W[o,i,r,c] = K[c·2 + r, i, o] (the first spatial axis runs fastest)', () => {
    // (K²=4, in=1, out=1), K = [k0, k1, k2, k3] → W rows r: [K[r], K[2 + r]] → [[0, 2], [1, 3]].
    const w = minkowskiToDense('k', t([4, 1, 1], [0, 1, 2, 3]))
    expect(w).toEqual(E.right(t([1, 1, 2, 2], [0, 2, 1, 3])))
    // in=1, out=2: output channel o reads K[:, 0, o].
    expect(minkowskiToDense('k', t([4, 1, 2], [0, 10, 1, 11, 2, 12, 3, 13]))).toEqual(E.right(t([2, 1, 2, 2], [0, 2, 1, 3, 10, 12, 11, 13])))
    // Depthwise (K², C=2): W[ch,0,r,c] = K[c·2 + r, ch].
    expect(minkowskiToDense('k', t([4, 2], [0, 10, 1, 11, 2, 12, 3, 13]))).toEqual(E.right(t([2, 1, 2, 2], [0, 2, 1, 3, 10, 12, 11, 13])))
  })

  it('rejects a non-square kernel volume with a message naming the key', () => {
    expect(minkowskiToDense('stages.0.0.dwconv.kernel', t([5, 2], Array(10).fill(0)))).toEqual(E.left(expect.stringMatching(/^stages\.0\.0\.dwconv\.kernel: \[5,2\] is not a MinkowskiEngine kernel/)))
  })

  it('denseToMinkowski inverts minkowskiToDense (random shapes and values)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.integer(), (ks, cin, cout, dw, seed) => {
        const shape = dw ? [cout, 1, ks, ks] : [cout, cin, ks, ks]
        const n = shape.reduce((a, b) => a * b, 1)
        const w = t(shape, Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % 1000) / 10))
        const k = denseToMinkowski(w, dw)
        expect(k.shape).toEqual(dw ? [ks * ks, cout] : [ks * ks, cin, cout])
        const back = minkowskiToDense('k', k)
        return E.isRight(back) && back.right.shape.join() === shape.join() && back.right.data.every((v, i) => v === w.data[i])
      }),
      { numRuns: 100, ...fcSeed() },
    )
  })

  it('remaps wrapper names and flattens biases and GRN', () => {
    expect(remapSparseKey('downsample_layers.1.0.ln.weight', t([3], [1, 2, 3]))).toEqual(E.right(['downsample_layers.1.0.weight', t([3], [1, 2, 3])]))
    expect(remapSparseKey('stages.0.0.pwconv1.linear.bias', t([2], [1, 2]))).toEqual(E.right(['stages.0.0.pwconv1.bias', t([2], [1, 2])]))
    expect(remapSparseKey('stages.0.0.dwconv.bias', t([1, 2], [1, 2]))).toEqual(E.right(['stages.0.0.dwconv.bias', t([2], [1, 2])]))
    expect(remapSparseKey('stages.0.0.grn.gamma', t([1, 2], [1, 2]))).toEqual(E.right(['stages.0.0.grn.gamma', t([2], [1, 2])]))
  })
})

// A small ConvNeXt-V2 (1 block per stage) and its dense PyTorch state dict (OIHW, (out, in), GRN (1,1,1,C)).
const bb = convnextLike('v2-small-test', 'convnextv2', { depths: [1, 1, 1, 1], dims: [8, 16, 24, 32] }, { grn: true })
const built = buildBackbone(bb, { training: false })
if (E.isLeft(built)) throw new Error('build')
const graph = built.right.graph
const sparkts = new Map([...initParams(graph, 11)].map(([k, v]) => [k, { shape: v.shape, data: v.data.map((x, i) => x + 0.01 * ((i % 13) - 6)) }] as const))
const layouts = torchLayouts(graph)
const dense = new Map<string, HostTensor>(
  [...sparkts].map(([k, v]) => {
    const l = layouts.get(k)
    const torch = l === 'oihw' ? permute(v, [3, 2, 0, 1]) : l === 'oi' ? permute(v, [1, 0]) : k.includes('.grn.') ? { shape: [1, 1, 1, v.shape[0] ?? 0], data: v.data } : v
    return [k, torch] as const
  }),
)

/** The FCMAE key and layout of a dense ConvNeXt-V2 key (inverse of the official remap). */
const toFcmae = (k: string, v: HostTensor): readonly [string, HostTensor] => {
  const p = k.split('.')
  const last = p[p.length - 1] ?? ''
  const mod = p.slice(0, -1).join('.')
  const row = (x: HostTensor): HostTensor => ({ shape: [1, x.data.length], data: x.data })
  if (k.startsWith('downsample_layers.0.')) return [`encoder.${k}`, v] // dense stem conv + LN
  if (/^downsample_layers\.\d\.0\./.test(k) || /\.norm\./.test(k)) return [`encoder.${mod}.ln.${last}`, v]
  if (/^downsample_layers\.\d\.1\./.test(k) || k.includes('.dwconv.'))
    return last === 'weight' ? [`encoder.${mod}.kernel`, denseToMinkowski(v, k.includes('.dwconv.'))] : [`encoder.${k}`, row(v)]
  if (k.includes('.pwconv')) return [`encoder.${mod}.linear.${last}`, v]
  if (k.includes('.grn.')) return [`encoder.${k}`, row(v)]
  throw new Error(`unhandled ${k}`)
}

const checkpoint = (tensors: ReadonlyMap<string, HostTensor>): Checkpoint => ({
  format: 'safetensors',
  tensors: new Map([...tensors].map(([k, v]) => [k, td(v)] as const)),
  wrapper: 'model',
  metadata: new Map(),
  extras: new Map(),
})

describe('FCMAE state dict → dense ConvNeXt-V2', () => {
  it('a synthetic FCMAE dict (with decoder keys) converts back to exactly the dense weights', () => {
    const fcmae = new Map([...dense].map(([k, v]) => toFcmae(k, v)))
    expect([...fcmae.keys()].some((k) => k.endsWith('.kernel'))).toBe(true)
    for (const [k, shape] of [['mask_token', [1, 8, 1, 1]], ['proj.weight', [8, 32, 1, 1]], ['proj.bias', [8]], ['decoder.0.dwconv.weight', [8, 1, 7, 7]], ['pred.weight', [12, 8, 1, 1]]] as const)
      fcmae.set(k, { shape: [...shape], data: new Float32Array(shape.reduce((a: number, b: number) => a * b, 1)).fill(9) })
    const m = mapKeys(checkpoint(fcmae).tensors)
    expect(E.isRight(m) && m.right.source).toBe('fcmae')
    expect(E.isRight(m) && [...m.right.dropped].sort()).toEqual(['decoder.0.dwconv.weight', 'mask_token', 'pred.weight', 'proj.bias', 'proj.weight'])
    const r = convertCheckpoint(checkpoint(fcmae), bb, { numClasses: 0, strict: true })
    if (E.isLeft(r)) throw new Error(r.left)
    expect(r.right.report.matched).toHaveLength(sparkts.size)
    expect(r.right.report.foldedBatchNorms).toBe(0)
    for (const [k, v] of sparkts) {
      const got = r.right.params.get(k)
      expect(got?.shape, k).toEqual(v.shape)
      expect(got?.data.every((x, i) => x === v.data[i]), k).toBe(true)
    }
  })

  it('a dense official dict (GRN (1,1,1,C), DataParallel `module.` prefix) converts by name and element count', () => {
    const wrapped = new Map([...dense].map(([k, v]) => [`module.${k}`, v] as const))
    const r = convertCheckpoint(checkpoint(wrapped), bb, { numClasses: 0, strict: true })
    if (E.isLeft(r)) throw new Error(r.left)
    const g = r.right.params.get('stages.1.0.grn.gamma')
    expect(g?.shape).toEqual([64])
    expect(g?.data).toEqual(sparkts.get('stages.1.0.grn.gamma')?.data)
  })

  it('a transposed kernel (wrong layout) is a shape mismatch, not a silent reinterpretation', () => {
    const fcmae = new Map([...dense].map(([k, v]) => toFcmae(k, v)))
    const k = fcmae.get('encoder.downsample_layers.1.1.kernel')
    if (k === undefined) throw new Error('no kernel')
    fcmae.set('encoder.downsample_layers.1.1.kernel', { shape: [k.shape[0] ?? 0, k.shape[2] ?? 0, k.shape[1] ?? 0], data: k.data })
    const r = convertCheckpoint(checkpoint(fcmae), bb, { numClasses: 0, strict: false })
    expect(r).toEqual(E.left(expect.stringMatching(/^1 shape-mismatched key\(s\) \(downsample_layers\.1\.1\.weight: \[8,16,2,2\] → \[2,2,8,16\]\)/)))
  })
})
