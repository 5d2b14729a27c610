// The model zoo: name → backbone factory. Parameter names equal the timm / official PyTorch state_dict
// keys, so checkpoints map by name. Families live in their own files (resnet.ts, convnext.ts, …).

import type { Backbone } from './backbone.js'
import type { ResNetConfig } from './resnet.js'
import { resnet, resnetConfigs } from './resnet.js'
import type { ConvNeXtConfig } from './convnext.js'
import { convnext, convnextConfigs } from './convnext.js'
import { convnextv2, convnextv2Configs } from './convnextv2.js'
import { sparkTinyCnn } from './spark-tiny.js'
import { smallResnet, smallResnetConfigs } from './small-resnet.js'

/** A zoo entry: a factory (options such as drop-path rate) and a one-line description. */
export interface ZooEntry {
  readonly description: string
  readonly create: (o?: { readonly dropPath?: number }) => Backbone
}

const describeResNet = (n: string, c: ResNetConfig): string =>
  `timm ${n} (${c.block === 'basic' ? 'BasicBlock' : 'Bottleneck'} ${c.depths.join('-')}), features 4/8/16/32`
const describeConvNeXt = (v: string, c: ConvNeXtConfig): string =>
  `official ConvNeXt${v} (depths ${c.depths.join('-')}, dims ${c.dims.join('/')}), features 4/8/16/32`

const entries = <C>(configs: Readonly<Record<string, C>>, describe: (n: string, c: C) => string, make: (n: string, c: C, o: { readonly dropPath?: number }) => Backbone): Array<[string, ZooEntry]> =>
  Object.entries(configs).map(([n, c]) => [n, { description: describe(n, c), create: (o = {}) => make(n, c, o) }])

// Small CPU-pretrainable ResNets (small-resnet.ts): 3×3/1 stem, total stride 8, for 32 px inputs.
const smallEntries = entries(smallResnetConfigs, (_n, c) => `small ResNet for 32 px (3x3/1 stem, BasicBlock ${c.depths.join('-')}, widths ${c.widths.join('/')}, ${c.inChannels} input channel), features 1/2/4/8`, smallResnet)

/** Every model in the zoo, by name. */
export const zoo: Readonly<Record<string, ZooEntry>> = Object.fromEntries([
  ...entries(resnetConfigs, describeResNet, resnet),
  ...entries(convnextConfigs, (_n, c) => describeConvNeXt('', c), convnext),
  ...entries(convnextv2Configs, (_n, c) => describeConvNeXt('-V2', c), convnextv2),
  ...smallEntries,
  ['spark_tiny_resnet', { description: 'the SparK fixture CNN (stem + one BasicBlock per layer, widths 16/32/48/64), features 4/8/16/32', create: () => sparkTinyCnn }],
])

/** Looks a model up by name. */
export const findModel = (name: string): ZooEntry | undefined => zoo[name]
