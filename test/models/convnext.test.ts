import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { convnext, convnextBlock, convnextConfigs } from '../../src/models/convnext.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import { convnextFormula } from './formulas.js'
import { convnextv2, convnextv2Configs } from '../../src/models/convnextv2.js'
import { findModel } from '../../src/models/zoo.js'
import { build, countTrainable, expectedFeatureShapes, fcSeed, featureShapes, four, paramsByName } from './model-utils.js'

const create = (name: string) => {
  const e = findModel(name)
  if (e === undefined) throw new Error(`${name} is not in the zoo`)
  return e.create()
}

describe('convnext / convnextv2 parameter counts (with a 1000-class head)', () => {
  it('equal PyTorch: convnext_tiny 28,589,128 and convnextv2_atto 3,708,400', () => {
    expect(countTrainable(build(create('convnext_tiny'), { numClasses: 1000 }))).toBe(28_589_128)
    expect(countTrainable(build(create('convnextv2_atto'), { numClasses: 1000 }))).toBe(3_708_400)
  })

  it('v1 equals the closed-form formula; the formula equals torchvision for small/base/large', () => {
    for (const [name, cfg] of Object.entries(convnextConfigs)) {
      if (name === 'convnext_large') continue // built once, in the zoo test (cheap-build rule)
      expect([name, countTrainable(build(create(name), { numClasses: 1000 }))]).toEqual([name, convnextFormula(cfg, 1, 1000)])
    }
    expect(convnextFormula(convnextConfigs.convnext_tiny, 1, 1000)).toBe(28_589_128)
    expect(convnextFormula(convnextConfigs.convnext_small, 1, 1000)).toBe(50_223_688)
    expect(convnextFormula(convnextConfigs.convnext_base, 1, 1000)).toBe(88_591_464)
    expect(convnextFormula(convnextConfigs.convnext_large, 1, 1000)).toBe(197_767_336)
  })

  it('v2 equals the closed-form formula (atto..base; large/huge are counted in the zoo test)', () => {
    for (const [name, cfg] of Object.entries(convnextv2Configs)) {
      if (name === 'convnextv2_large' || name === 'convnextv2_huge') continue
      expect([name, countTrainable(build(create(name), { numClasses: 1000 }))]).toEqual([name, convnextFormula(cfg, 2, 1000)])
    }
    expect(convnextFormula(convnextv2Configs.convnextv2_atto, 2, 1000)).toBe(3_708_400)
  })

  it('without a head the count drops by exactly the norm + head parameters', () => {
    const c = convnextConfigs.convnext_tiny
    expect(countTrainable(build(create('convnext_tiny')))).toBe(28_589_128 - (2 * 768 + 768 * 1000 + 1000))
    expect(convnextFormula(c, 1, 0)).toBe(28_589_128 - (2 * 768 + 768 * 1000 + 1000))
  })

  it('small random configurations match the formula and strides 4/8/16/32 for both versions (property)', () => {
    const dims = four(fc.integer({ min: 1, max: 4 }).map((k) => 8 * k))
    const depths = four(fc.integer({ min: 1, max: 2 }))
    fc.assert(
      fc.property(fc.record({ depths, dims }), fc.constantFrom<1 | 2>(1, 2), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), (cfg, v, fh, fw) => {
        const bb = v === 1 ? convnext('c', cfg) : convnextv2('c', cfg)
        const m = build(bb, { numClasses: 7 })
        expect(countTrainable(m)).toBe(convnextFormula(cfg, v, 7))
        expect(featureShapes(m, [1, 32 * fh, 32 * fw, 3])).toEqual(expectedFeatureShapes(bb, 1, 32 * fh, 32 * fw))
      }),
      { ...fcSeed(), numRuns: 25 },
    )
  })
})

describe('convnext structure', () => {
  it('convnext_tiny features at 224 have channels 96/192/384/768 at strides 4/8/16/32', () => {
    const bb = create('convnext_tiny')
    expect(featureShapes(build(bb), [1, 224, 224, 3])).toEqual([[1, 56, 56, 96], [1, 28, 28, 192], [1, 14, 14, 384], [1, 7, 7, 768]])
    expect(bb.featureChannels).toEqual([96, 192, 384, 768])
    expect(bb.family).toBe('convnext')
  })

  it('uses the official state_dict keys with sparkts layouts', () => {
    const p = paramsByName(build(create('convnext_tiny'), { numClasses: 1000 }))
    expect(p.get('downsample_layers.0.0.weight')?.shape).toEqual([4, 4, 3, 96])
    expect(p.get('downsample_layers.0.1.bias')?.shape).toEqual([96])
    expect(p.get('downsample_layers.2.0.weight')?.shape).toEqual([192])
    expect(p.get('downsample_layers.2.1.weight')?.shape).toEqual([2, 2, 192, 384])
    expect(p.get('stages.2.8.pwconv2.weight')?.shape).toEqual([1536, 384])
    expect(p.get('stages.2.8.pwconv1.weight')?.shape).toEqual([384, 1536])
    expect(p.get('stages.0.0.dwconv.weight')?.shape).toEqual([7, 7, 1, 96])
    expect(p.get('stages.3.2.gamma')).toMatchObject({ shape: [768], init: { kind: 'constant', value: 1e-6 } })
    expect(p.get('norm.weight')?.shape).toEqual([768])
    expect(p.get('head.weight')?.shape).toEqual([768, 1000])
    expect(p.has('stages.2.9.dwconv.weight')).toBe(false)
    expect([...p.keys()].some((k) => k.includes('grn'))).toBe(false)
    expect([...p.values()].every((v) => v.trainable)).toBe(true)
  })

  it('v2 has GRN(4C) and no layer scale', () => {
    const p = paramsByName(build(create('convnextv2_atto'), { numClasses: 1000 }))
    expect(p.get('stages.0.0.grn.gamma')).toMatchObject({ shape: [160], init: { kind: 'zeros' } })
    expect(p.get('stages.3.1.grn.beta')).toMatchObject({ shape: [1280], init: { kind: 'zeros' } })
    expect([...p.keys()].some((k) => k.endsWith('.gamma') && !k.includes('grn'))).toBe(false)
    expect(create('convnextv2_atto').family).toBe('convnextv2')
    const m = build(create('convnextv2_atto'))
    const grn = m.graph.nodes.filter((n) => n.op === 'grn')
    expect(grn).toHaveLength(12)
    expect(grn.every((n) => n.op === 'grn' && n.params.eps === 1e-6)).toBe(true)
  })

  it('initialises conv/linear weights trunc-normal(.02, ±2), biases 0, LN (1, 0)', () => {
    const p = paramsByName(build(create('convnextv2_atto'), { numClasses: 10 }))
    const tn = { kind: 'truncNormal', std: 0.02, a: -2, b: 2 }
    for (const k of ['downsample_layers.0.0.weight', 'downsample_layers.1.1.weight', 'stages.1.0.dwconv.weight', 'stages.1.0.pwconv1.weight', 'stages.1.0.pwconv2.weight', 'head.weight'])
      expect([k, p.get(k)?.init]).toEqual([k, tn])
    for (const k of ['downsample_layers.0.0.bias', 'stages.1.0.dwconv.bias', 'stages.1.0.pwconv1.bias', 'head.bias', 'norm.bias', 'stages.1.0.norm.bias'])
      expect([k, p.get(k)?.init.kind]).toEqual([k, 'zeros'])
    expect(p.get('stages.1.0.norm.weight')?.init.kind).toBe('ones')
  })

  it('LayerNorms use eps 1e-6; drop path follows linspace(0, rate, Σdepths)', () => {
    const m = build(convnext('convnext_tiny', convnextConfigs.convnext_tiny, { dropPath: 0.1 }), { numClasses: 5 })
    expect(m.graph.nodes.every((n) => n.op !== 'layerNorm' || n.params.eps === 1e-6)).toBe(true)
    const rates = m.graph.nodes.flatMap((n) => (n.op === 'dropPath' ? [n.params.rate] : []))
    expect(rates).toHaveLength(17) // 18 blocks, the first has rate 0 (no node)
    // 1e-12: double-precision rounding of rate·i/17 only.
    rates.forEach((r, i) => expect(r).toBeCloseTo((0.1 * (i + 1)) / 17, 12))
  })

  it('block op order: dwconv → LN → pwconv1 → GELU → [GRN] → pwconv2 → [γ] → drop path → residual add', () => {
    const ops = (kind: { readonly layerScale?: number; readonly grn: boolean }) => {
      const b = new GraphBuilder({ training: true })
      const y = convnextBlock('stages.1.2', kind, 0.1)(b.input('input', [1, 8, 8, 16]))
      expect(b.error).toBeUndefined()
      expect(y.type.shape).toEqual([1, 8, 8, 16])
      const g = b.build([['y', y]])
      return E.isRight(g) ? g.right.nodes.filter((n) => n.op !== 'param' && n.op !== 'input').map((n) => `${n.op}${n.name === undefined ? '' : ` ${n.name}`}`) : []
    }
    expect(ops({ layerScale: 1e-6, grn: false })).toEqual(['conv2d stages.1.2.dwconv', 'layerNorm stages.1.2.norm', 'linear stages.1.2.pwconv1', 'gelu', 'linear stages.1.2.pwconv2', 'mul', 'dropPath', 'add stages.1.2'])
    expect(ops({ grn: true })).toEqual(['conv2d stages.1.2.dwconv', 'layerNorm stages.1.2.norm', 'linear stages.1.2.pwconv1', 'gelu', 'grn stages.1.2.grn', 'linear stages.1.2.pwconv2', 'dropPath', 'add stages.1.2'])
  })
})
