// The small ResNets (src/models/small-resnet.ts): feature shapes at strides 1/2/4/8 of a 32 px input,
// trainable-parameter counts equal to a closed form written from the architecture (property over
// depths/widths/channels), zoo registration, the input-channel override, and a SparK graph with a 4×4
// mask grid and a decoder output of inChannels channels.

import * as E from 'fp-ts/lib/Either.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { inferTypes } from '../../src/ir/infer.js'
import { formatError } from '../../src/ir/errors.js'
import type { SmallResNetConfig } from '../../src/models/small-resnet.js'
import { smallResnet, smallResnetConfigs, withInChannels } from '../../src/models/small-resnet.js'
import { findModel } from '../../src/models/zoo.js'
import { buildSpark } from '../../src/spark/spark.js'
import { build, countTrainable, fcSeed, featureShapes, four, paramsByName } from './model-utils.js'

/** Closed form: stem 3×3 conv (no bias) + BN; per BasicBlock two 3×3 convs + two BNs, plus a 1×1 conv + BN shortcut when the shape changes. */
const formula = (c: SmallResNetConfig, numClasses = 0): number => {
  let n = 9 * c.inChannels * c.stemWidth + 2 * c.stemWidth
  let inCh = c.stemWidth
  c.widths.forEach((w, i) => {
    for (let b = 0; b < (c.depths[i] ?? 0); b++) {
      const stride = b === 0 && i > 0 ? 2 : 1
      n += 9 * inCh * w + 2 * w + 9 * w * w + 2 * w
      if (b === 0 && (stride !== 1 || inCh !== w)) n += inCh * w + 2 * w
      inCh = w
    }
  })
  return numClasses > 0 ? n + inCh * numClasses + numClasses : n
}

describe('small ResNets', () => {
  it.each(Object.keys(smallResnetConfigs))('%s: in the zoo, stride 8, features 32/16/8/4 of a 32 px input', (name) => {
    const bb = findModel(name)?.create()
    expect(bb?.name).toBe(name)
    if (bb === undefined) return
    expect(bb.downsampleRatio).toBe(8)
    expect(bb.inChannels).toBe(1)
    expect(featureShapes(build(bb), [2, 32, 32, 1])).toEqual([
      [2, 32, 32, 16],
      [2, 16, 16, 32],
      [2, 8, 8, 64],
      [2, 4, 4, 128],
    ])
  })

  it('pinned counts: resnet_small 1-1-1-1 and resnet18_small 2-2-2-2 (1 channel; +fc for 10 classes)', () => {
    // Hand-computed for resnet_small: stem 144+32, layer1 4608+64, layer2 13824+128+512+64,
    // layer3 55296+256+2048+128, layer4 221184+512+8192+256 → 307,248 (the property covers other configs).
    expect(countTrainable(build(smallResnet('a', smallResnetConfigs.resnet_small)))).toBe(307_248)
    expect(formula(smallResnetConfigs.resnet_small)).toBe(307_248)
    expect(countTrainable(build(smallResnet('b', smallResnetConfigs.resnet18_small)))).toBe(formula(smallResnetConfigs.resnet18_small))
    expect(countTrainable(build(smallResnet('c', smallResnetConfigs.resnet_small), { numClasses: 10 }))).toBe(307_248 + 1290)
  })

  it('trainable counts equal the closed form for random depths, widths and channels', () => {
    const cfg = fc.record({
      depths: four(fc.integer({ min: 0, max: 2 })).filter((d) => d[0] + d[1] + d[2] + d[3] > 0),
      widths: four(fc.integer({ min: 1, max: 12 })),
      stemWidth: fc.integer({ min: 1, max: 12 }),
      inChannels: fc.integer({ min: 1, max: 4 }),
    })
    fc.assert(
      fc.property(cfg, (c) => {
        // A stage of depth 0 passes its input through; its "feature" is then the previous stage's.
        return countTrainable(build(smallResnet('p', c))) === formula(c)
      }),
      { ...fcSeed(), numRuns: 40 },
    )
  })

  it('withInChannels(…, 3) builds the RGB variant: conv1 takes 3 channels, the rest is unchanged', () => {
    const bb = withInChannels(smallResnet('rgb', smallResnetConfigs.resnet_small), 3)
    const m = build(bb)
    expect(paramsByName(m).get('conv1.weight')?.shape).toEqual([3, 3, 3, 16])
    expect(countTrainable(m)).toBe(formula({ ...smallResnetConfigs.resnet_small, inChannels: 3 }))
    expect(paramsByName(m).get('layer2.0.downsample.0.weight')?.shape).toEqual([1, 1, 16, 32])
    expect(paramsByName(m).has('layer1.0.downsample.0.weight')).toBe(false)
  })

  it('SparK on resnet_small at 32 px: mask grid 4×4, reconstruction with 1 channel', () => {
    const bb = findModel('resnet_small')?.create()
    if (bb === undefined) throw new Error('resnet_small missing')
    const m = buildSpark(bb, { decoderWidth: 32, inputSize: 32, batch: 2 })
    if (E.isLeft(m)) throw new Error(formatError(m.left))
    const inputs = m.right.graph.nodes.filter((n) => n.op === 'input').map((n) => (n.op === 'input' ? [n.params.name, n.params.shape] : []))
    expect(inputs).toEqual([
      ['input', [2, 32, 32, 1]],
      ['mask', [2, 4, 4, 1]],
    ])
    const t = inferTypes(m.right.graph, { input: [2, 32, 32, 1], mask: [2, 4, 4, 1] })
    if (E.isLeft(t)) throw new Error(formatError(t.left))
    const shapes = Object.fromEntries(m.right.graph.outputs.map((o) => [o.name, t.right.get(o.node)?.shape]))
    expect(shapes['loss']).toEqual([])
    expect(shapes['reconstruction']).toEqual([2, 32, 32, 1])
    expect(shapes['features.3']).toEqual([2, 4, 4, 128])
  })
})
