import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { bottleneck, resnet, resnetConfigs } from '../../src/models/resnet.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import * as E from 'fp-ts/lib/Either.js'
import { resnetFormula } from './formulas.js'
import { findModel } from '../../src/models/zoo.js'
import sparkTinyCnn from '../../examples/spark-tiny-cnn.js'
import { build, countTrainable, expectedFeatureShapes, fcSeed, featureShapes, four, paramsByName } from './model-utils.js'

const create = (name: string) => {
  const e = findModel(name)
  if (e === undefined) throw new Error(`${name} is not in the zoo`)
  return e.create()
}

describe('resnet parameter counts (trainable, without fc)', () => {
  it('equal PyTorch: resnet50 23,508,032 and resnet18 11,176,512', () => {
    expect(countTrainable(build(create('resnet50')))).toBe(23_508_032)
    expect(countTrainable(build(create('resnet18')))).toBe(11_176_512)
  })

  it('equal the closed-form formula for every depth, and torchvision for 34/101/152 (fc removed)', () => {
    for (const [name, cfg] of Object.entries(resnetConfigs)) expect([name, countTrainable(build(create(name)))]).toEqual([name, resnetFormula(cfg)])
    // torchvision totals minus fc (512·1000+1000 or 2048·1000+1000).
    expect(resnetFormula(resnetConfigs.resnet34)).toBe(21_797_672 - 513_000)
    expect(resnetFormula(resnetConfigs.resnet101)).toBe(44_549_160 - 2_049_000)
    expect(resnetFormula(resnetConfigs.resnet152)).toBe(60_192_808 - 2_049_000)
    expect(resnetFormula(resnetConfigs.resnet50)).toBe(23_508_032)
  })

  it('adds fc = C·K + K with a K-class head and produces (B, K) logits', () => {
    const m = build(create('resnet18'), { numClasses: 10, batch: 2, inputSize: 64 })
    expect(countTrainable(m)).toBe(11_176_512 + 512 * 10 + 10)
    expect(paramsByName(m).get('fc.weight')?.shape).toEqual([512, 10])
    const logits = m.graph.outputs.find((o) => o.name === 'logits')
    expect(logits).toBeDefined()
  })

  it('small random configurations also match the formula and the 4/8/16/32 strides (property)', () => {
    const cfg = fc.record({
      block: fc.constantFrom<'basic' | 'bottleneck'>('basic', 'bottleneck'),
      depths: four(fc.integer({ min: 1, max: 2 })),
      widths: four(fc.integer({ min: 1, max: 6 }).map((k) => 4 * k)),
      stemWidth: fc.integer({ min: 1, max: 6 }).map((k) => 4 * k),
    })
    fc.assert(
      fc.property(cfg, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), (c, fh, fw) => {
        const bb = resnet('r', c)
        const m = build(bb)
        expect(countTrainable(m)).toBe(resnetFormula(c))
        expect(featureShapes(m, [1, 32 * fh, 32 * fw, 3])).toEqual(expectedFeatureShapes(bb, 1, 32 * fh, 32 * fw))
      }),
      { ...fcSeed(), numRuns: 25 },
    )
  })
})

describe('resnet structure', () => {
  it('resnet50 features at 224 are [56,56,256],[28,28,512],[14,14,1024],[7,7,2048]; non-square inputs keep strides 4/8/16/32', () => {
    const bb = create('resnet50')
    const m = build(bb)
    expect(featureShapes(m, [2, 224, 224, 3])).toEqual([[2, 56, 56, 256], [2, 28, 28, 512], [2, 14, 14, 1024], [2, 7, 7, 2048]])
    expect(featureShapes(m, [1, 160, 96, 3])).toEqual(expectedFeatureShapes(bb, 1, 160, 96))
    expect(bb.featureChannels).toEqual([256, 512, 1024, 2048])
    expect(bb.downsampleRatio).toBe(32)
  })

  it('uses timm state_dict keys with sparkts layouts (conv HWIO)', () => {
    const p = paramsByName(build(create('resnet50')))
    expect(p.get('conv1.weight')?.shape).toEqual([7, 7, 3, 64])
    expect(p.get('layer1.0.downsample.0.weight')?.shape).toEqual([1, 1, 64, 256])
    expect(p.get('layer1.0.downsample.1.running_var')).toMatchObject({ shape: [256], trainable: false })
    expect(p.get('layer3.5.conv2.weight')?.shape).toEqual([3, 3, 256, 256])
    expect(p.get('layer4.2.bn3.bias')?.shape).toEqual([2048])
    expect(p.has('layer1.1.downsample.0.weight')).toBe(false)
    // SparK's timm-style R50 file has 318 keys: our 265 tensors + one num_batches_tracked per BN (53).
    const m = build(create('resnet50'))
    expect(p.size + m.graph.nodes.filter((n) => n.op === 'batchNorm').length).toBe(318)
    expect(p.has('layer3.6.conv1.weight')).toBe(false)
    // resnet18: layer1 keeps 64 channels at stride 1, so no shortcut conv there; layer2 has one.
    const q = paramsByName(build(create('resnet18')))
    expect(q.has('layer1.0.downsample.0.weight')).toBe(false)
    expect(q.get('layer2.0.downsample.0.weight')?.shape).toEqual([1, 1, 64, 128])
  })

  it('initialises as timm: kaiming-normal fan_out convs, BN (1,0), zero-init last BN of each block', () => {
    const p = paramsByName(build(create('resnet50')))
    expect(p.get('conv1.weight')?.init).toEqual({ kind: 'normal', std: Math.sqrt(2 / (64 * 49)) })
    expect(p.get('layer2.0.conv2.weight')?.init).toEqual({ kind: 'normal', std: Math.sqrt(2 / (128 * 9)) })
    expect(p.get('layer2.0.bn3.weight')?.init.kind).toBe('zeros')
    expect(p.get('layer2.0.bn2.weight')?.init.kind).toBe('ones')
    expect(p.get('layer2.0.downsample.1.weight')?.init.kind).toBe('ones')
    expect(p.get('bn1.bias')?.init.kind).toBe('zeros')
    const q = paramsByName(build(create('resnet18')))
    expect(q.get('layer3.1.bn2.weight')?.init.kind).toBe('zeros')
    expect(q.get('layer3.1.bn1.weight')?.init.kind).toBe('ones')
  })

  it('drop path grows linearly over blocks: rate·idx/(n−1), none on block 0', () => {
    const m = build(resnet('resnet50', resnetConfigs.resnet50, { dropPath: 0.3 }), { training: true })
    const rates = m.graph.nodes.flatMap((n) => (n.op === 'dropPath' ? [n.params.rate] : []))
    expect(rates).toHaveLength(15)
    // 1e-12: rates are computed as rate·i/15 in double precision; only rounding can differ.
    rates.forEach((r, i) => expect(r).toBeCloseTo((0.3 * (i + 1)) / 15, 12))
    expect(m.graph.nodes.every((n) => n.op !== 'dropPath' || n.params.training)).toBe(true)
  })
})

describe('resnet block', () => {
  it('bottleneck op order: residual branch, drop path, shortcut conv + BN, add, relu', () => {
    const b = new GraphBuilder({ training: true })
    const y = bottleneck('layer2.0', { planes: 8, stride: 2, downsample: true, dropPath: 0.1 })(b.input('input', [1, 8, 8, 16]))
    expect(y.type.shape).toEqual([1, 4, 4, 32])
    const g = b.build([['y', y]])
    const ops = E.isRight(g) ? g.right.nodes.filter((n) => n.op !== 'param' && n.op !== 'input').map((n) => `${n.op}${n.name === undefined ? '' : ` ${n.name}`}`) : []
    expect(ops).toEqual([
      ...['conv2d layer2.0.conv1', 'batchNorm layer2.0.bn1', 'relu', 'conv2d layer2.0.conv2', 'batchNorm layer2.0.bn2', 'relu', 'conv2d layer2.0.conv3', 'batchNorm layer2.0.bn3'],
      ...['dropPath', 'conv2d layer2.0.downsample.0', 'batchNorm layer2.0.downsample.1', 'add layer2.0', 'relu'],
    ])
  })
})

describe('examples/spark-tiny-cnn (the SparK fixture CNN)', () => {
  // safetensors header: u64 little-endian length, then JSON {key: {dtype, shape, data_offsets}}.
  const header = (path: string): Record<string, { shape: number[] }> => {
    const buf = readFileSync(path)
    const n = Number(buf.readBigUInt64LE(0))
    const h = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { shape: number[] }>
    delete h['__metadata__']
    return h
  }
  const oihwToHwio = (s: number[]): number[] => (s.length === 4 ? [s[2] ?? 0, s[3] ?? 0, s[1] ?? 0, s[0] ?? 0] : s)

  it('has exactly the official timm-style keys, in state_dict order, with transposed conv shapes', () => {
    const h = header('/work/shared/fixtures/spark-tiny/spark_tiny_timm_style.safetensors')
    const want = Object.entries(h).filter(([k]) => !k.endsWith('num_batches_tracked'))
    expect(want.length).toBeGreaterThan(40)
    const m = build(sparkTinyCnn)
    const got = [...paramsByName(m).entries()].map(([k, p]) => [k, [...p.shape]])
    expect(got).toEqual(want.map(([k, v]) => [k, oihwToHwio(v.shape)]))
  })

  it('returns [B,24,24,16],[B,12,12,32],[B,6,6,48],[B,3,3,64] for a 96×96 input', () => {
    expect(featureShapes(build(sparkTinyCnn), [2, 96, 96, 3])).toEqual([[2, 24, 24, 16], [2, 12, 12, 32], [2, 6, 6, 48], [2, 3, 3, 64]])
  })
})
