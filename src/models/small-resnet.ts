// Small ResNets for SparK pretraining on a CPU (2 cores) with 32×32 inputs, e.g. the built-in 28×28
// Fashion-MNIST subset padded to 32. The timm stem (7×7/2 conv + 3×3/2 max-pool, stride 4) would leave 1×1
// maps at the last stage of a 32 px image, so these use a CIFAR-style stem instead: conv 3×3/1 → BN → ReLU,
// then four stages of timm BasicBlocks with strides 1/2/2/2. Total stride 8 = SparK's mask patch: a 32 px
// input gives features at 32/16/8/4 px and a 4×4 mask grid (spec §1: the patch equals the total stride).
// Block parameter names are timm's (`layer2.0.downsample.1.weight`…), the stem's `conv1`/`bn1` too, so
// SparK's key mapping and sparkts checkpoints treat them like any zoo ResNet. inChannels defaults to 1
// (the built-in grey set); the convolution weights take their input channels from the input, so
// `withInChannels(bb, 3)` gives the same architecture for RGB folders.

import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../ir/builder.js'
import type { Backbone } from './backbone.js'
import type { Four } from './blocks.js'
import { dropPathRates, kaimingNormalFanOut } from './blocks.js'
import { batchNorm, conv2d, globalAvgPool, linear, relu } from './layers.js'
import { basicBlock } from './resnet.js'

/** A small ResNet: BasicBlocks per stage, stage widths, stem width, input channels. */
export interface SmallResNetConfig {
  readonly depths: Four<number>
  readonly widths: Four<number>
  readonly stemWidth: number
  readonly inChannels: number
}

/** The small ResNets of the zoo. */
export const smallResnetConfigs = {
  resnet_small: { depths: [1, 1, 1, 1], widths: [16, 32, 64, 128], stemWidth: 16, inChannels: 1 },
  resnet18_small: { depths: [2, 2, 2, 2], widths: [16, 32, 64, 128], stemWidth: 16, inChannels: 1 },
} as const satisfies Readonly<Record<string, SmallResNetConfig>>

/** Stage strides (the stem has stride 1): total stride 8. */
export const SMALL_RESNET_STRIDES: Four<number> = [1, 2, 2, 2]

/** Builds a small ResNet backbone: features = [layer1..layer4] at strides 1/2/4/8. */
export const smallResnet = (name: string, cfg: SmallResNetConfig, o: { readonly dropPath?: number } = {}): Backbone => {
  const rates = dropPathRates(o.dropPath ?? 0, cfg.depths.reduce((a, b) => a + b, 0))
  const features = (x: Value): ReadonlyArray<Value> => {
    const feats: Value[] = []
    let y = pipe(x, conv2d('conv1', { out: cfg.stemWidth, kernel: 3, stride: 1, padding: 1, bias: false, init: kaimingNormalFanOut(cfg.stemWidth, 3) }), batchNorm('bn1'), relu)
    let inCh = cfg.stemWidth
    let idx = 0
    for (const [li, planes] of cfg.widths.entries()) {
      for (let bi = 0; bi < (cfg.depths[li] ?? 0); bi++) {
        const s = bi === 0 ? (SMALL_RESNET_STRIDES[li] ?? 1) : 1
        y = basicBlock(`layer${li + 1}.${bi}`, { planes, stride: s, downsample: bi === 0 && (s !== 1 || inCh !== planes), dropPath: rates[idx++] ?? 0 })(y)
        inCh = planes
      }
      feats.push(y)
    }
    return feats
  }
  return {
    name,
    family: 'resnet',
    downsampleRatio: 8,
    featureChannels: [...cfg.widths],
    inChannels: cfg.inChannels,
    features,
    head: (last, numClasses) => pipe(last, globalAvgPool, linear('fc', numClasses)),
  }
}

/** The same backbone taking `c` input channels (the first convolution's weight follows the input). */
export const withInChannels = (bb: Backbone, c: number): Backbone => (bb.inChannels === c ? bb : { ...bb, inChannels: c })
