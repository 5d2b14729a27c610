import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { zoo, findModel } from '../../src/models/zoo.js'
import { resnetConfigs } from '../../src/models/resnet.js'
import { convnextConfigs } from '../../src/models/convnext.js'
import { convnextv2Configs } from '../../src/models/convnextv2.js'
import { inferTypes } from '../../src/ir/infer.js'
import { printGraph } from '../../src/ir/print.js'
import tinyNet from '../../examples/custom-backbone.js'
import { convnextFormula, resnetFormula } from './formulas.js'
import { build, countTrainable, expectedFeatureShapes, featureShapes } from './model-utils.js'

const names = [
  ...['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnet200'],
  ...['convnext_tiny', 'convnext_small', 'convnext_base', 'convnext_large'],
  ...['atto', 'femto', 'pico', 'nano', 'tiny', 'base', 'large', 'huge'].map((s) => `convnextv2_${s}`),
  'spark_tiny_resnet',
]
// Stride-8 models for 32 px inputs (checked in small-resnet.test.ts), registered beside the others.
const small = ['resnet_small', 'resnet18_small']
// Heavy builds: only built and counted here (cheap-build rule), no shape walks.
const heavy = new Set(['resnet200', 'convnext_large', 'convnextv2_large', 'convnextv2_huge'])

describe('zoo', () => {
  it('registers exactly the 21 models, each with a one-line description', () => {
    expect(Object.keys(zoo).sort()).toEqual([...names, ...small].sort())
    for (const n of [...names, ...small]) expect(findModel(n)?.description).toMatch(/^[^\n]{10,}$/)
    expect(findModel('resnet51')).toBeUndefined()
  })

  it.each(names.filter((n) => !heavy.has(n)))('%s: downsample ratio 32, features at strides 4/8/16/32 with the declared channels', (name) => {
    const bb = findModel(name)?.create() ?? tinyNet
    expect(bb.name).toBe(name)
    expect(bb.downsampleRatio).toBe(32)
    const m = build(bb)
    expect(featureShapes(m, [1, 224, 224, 3])).toEqual(expectedFeatureShapes(bb, 1, 224, 224))
  })

  it('heavy models build and count as the closed forms (resnet200 without fc; convnext with 1000-class heads)', () => {
    const count = (n: string, classes: number) => countTrainable(build(findModel(n)?.create() ?? tinyNet, { numClasses: classes }))
    expect(count('resnet200', 0)).toBe(resnetFormula(resnetConfigs.resnet200))
    expect(count('resnet200', 0)).toBe(64_673_832 - 2_049_000) // timm resnet200 total minus fc
    expect(count('convnext_large', 1000)).toBe(convnextFormula(convnextConfigs.convnext_large, 1, 1000))
    expect(count('convnextv2_large', 1000)).toBe(convnextFormula(convnextv2Configs.convnextv2_large, 2, 1000))
    expect(count('convnextv2_huge', 1000)).toBe(convnextFormula(convnextv2Configs.convnextv2_huge, 2, 1000))
  })

  it('passes the drop-path option through the factory', () => {
    const g = build(findModel('convnextv2_atto')?.create({ dropPath: 0.2 }) ?? tinyNet).graph
    const rates = g.nodes.flatMap((n) => (n.op === 'dropPath' ? [n.params.rate] : []))
    expect(rates).toHaveLength(11)
    expect(Math.max(...rates)).toBe(0.2)
  })
})

describe('examples/custom-backbone', () => {
  it('is a 4-stage stride-32 backbone with a head', () => {
    const m = build(tinyNet, { numClasses: 10 })
    expect(featureShapes(m, [2, 64, 96, 3])).toEqual(expectedFeatureShapes(tinyNet, 2, 64, 96))
    expect(countTrainable(m)).toBe(4 * 4 * 3 * 32 + 9 * (32 * 64 + 64 * 128 + 128 * 256) + 2 * (32 + 64 + 128 + 256) + 256 * 10 + 10)
  })

  it('prints a stable graph (snapshot)', () => {
    const m = build(tinyNet, { numClasses: 10 })
    const t = inferTypes(m.graph, { input: [1, 64, 64, 3] })
    expect(E.isRight(t)).toBe(true)
    expect(printGraph(m.graph, E.isRight(t) ? t.right : undefined)).toMatchInlineSnapshot(`
      "%0 = input() {name="input", shape=[null,null,null,3]} : [1,64,64,3]  # input
      %1 = param() {init={high=0.14433756729740646, kind="uniform", low=-0.14433756729740646}, name="stages.0.0.weight", shape=[4,4,3,32], trainable=true} : [4,4,3,32]  # stages.0.0.weight
      %2 = conv2d(%0, %1) {dilations=[1,1], groups=1, padding=[[0,0],[0,0]], strides=[4,4]} : [1,16,16,32]  # stages.0.0
      %3 = param() {init={kind="ones"}, name="stages.0.1.weight", shape=[32], trainable=true} : [32]  # stages.0.1.weight
      %4 = param() {init={kind="zeros"}, name="stages.0.1.bias", shape=[32], trainable=true} : [32]  # stages.0.1.bias
      %5 = param() {init={kind="zeros"}, name="stages.0.1.running_mean", shape=[32], trainable=false} : [32]  # stages.0.1.running_mean
      %6 = param() {init={kind="ones"}, name="stages.0.1.running_var", shape=[32], trainable=false} : [32]  # stages.0.1.running_var
      %7 = batchNorm(%2, %3, %4, %5, %6) {eps=0.00001, momentum=0.1, training=false} : [1,16,16,32]  # stages.0.1
      %8 = relu(%7) : [1,16,16,32]
      %9 = param() {init={high=0.05892556509887897, kind="uniform", low=-0.05892556509887897}, name="stages.1.0.weight", shape=[3,3,32,64], trainable=true} : [3,3,32,64]  # stages.1.0.weight
      %10 = conv2d(%8, %9) {dilations=[1,1], groups=1, padding=[[1,1],[1,1]], strides=[2,2]} : [1,8,8,64]  # stages.1.0
      %11 = param() {init={kind="ones"}, name="stages.1.1.weight", shape=[64], trainable=true} : [64]  # stages.1.1.weight
      %12 = param() {init={kind="zeros"}, name="stages.1.1.bias", shape=[64], trainable=true} : [64]  # stages.1.1.bias
      %13 = param() {init={kind="zeros"}, name="stages.1.1.running_mean", shape=[64], trainable=false} : [64]  # stages.1.1.running_mean
      %14 = param() {init={kind="ones"}, name="stages.1.1.running_var", shape=[64], trainable=false} : [64]  # stages.1.1.running_var
      %15 = batchNorm(%10, %11, %12, %13, %14) {eps=0.00001, momentum=0.1, training=false} : [1,8,8,64]  # stages.1.1
      %16 = relu(%15) : [1,8,8,64]
      %17 = param() {init={high=0.041666666666666664, kind="uniform", low=-0.041666666666666664}, name="stages.2.0.weight", shape=[3,3,64,128], trainable=true} : [3,3,64,128]  # stages.2.0.weight
      %18 = conv2d(%16, %17) {dilations=[1,1], groups=1, padding=[[1,1],[1,1]], strides=[2,2]} : [1,4,4,128]  # stages.2.0
      %19 = param() {init={kind="ones"}, name="stages.2.1.weight", shape=[128], trainable=true} : [128]  # stages.2.1.weight
      %20 = param() {init={kind="zeros"}, name="stages.2.1.bias", shape=[128], trainable=true} : [128]  # stages.2.1.bias
      %21 = param() {init={kind="zeros"}, name="stages.2.1.running_mean", shape=[128], trainable=false} : [128]  # stages.2.1.running_mean
      %22 = param() {init={kind="ones"}, name="stages.2.1.running_var", shape=[128], trainable=false} : [128]  # stages.2.1.running_var
      %23 = batchNorm(%18, %19, %20, %21, %22) {eps=0.00001, momentum=0.1, training=false} : [1,4,4,128]  # stages.2.1
      %24 = relu(%23) : [1,4,4,128]
      %25 = param() {init={high=0.029462782549439483, kind="uniform", low=-0.029462782549439483}, name="stages.3.0.weight", shape=[3,3,128,256], trainable=true} : [3,3,128,256]  # stages.3.0.weight
      %26 = conv2d(%24, %25) {dilations=[1,1], groups=1, padding=[[1,1],[1,1]], strides=[2,2]} : [1,2,2,256]  # stages.3.0
      %27 = param() {init={kind="ones"}, name="stages.3.1.weight", shape=[256], trainable=true} : [256]  # stages.3.1.weight
      %28 = param() {init={kind="zeros"}, name="stages.3.1.bias", shape=[256], trainable=true} : [256]  # stages.3.1.bias
      %29 = param() {init={kind="zeros"}, name="stages.3.1.running_mean", shape=[256], trainable=false} : [256]  # stages.3.1.running_mean
      %30 = param() {init={kind="ones"}, name="stages.3.1.running_var", shape=[256], trainable=false} : [256]  # stages.3.1.running_var
      %31 = batchNorm(%26, %27, %28, %29, %30) {eps=0.00001, momentum=0.1, training=false} : [1,2,2,256]  # stages.3.1
      %32 = relu(%31) : [1,2,2,256]
      %33 = globalAvgPool(%32) : [1,256]
      %34 = param() {init={high=0.0625, kind="uniform", low=-0.0625}, name="fc.weight", shape=[256,10], trainable=true} : [256,10]  # fc.weight
      %35 = param() {init={high=0.0625, kind="uniform", low=-0.0625}, name="fc.bias", shape=[10], trainable=true} : [10]  # fc.bias
      %36 = linear(%33, %34, %35) : [1,10]  # fc
      output features.0 = %8
      output features.1 = %16
      output features.2 = %24
      output features.3 = %32
      output logits = %36"
    `)
  })
})
