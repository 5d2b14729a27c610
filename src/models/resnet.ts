// timm ResNet (v0.5.4, the version SparK pretrains) as a Backbone: stem conv 7×7/2 → BN → ReLU → max-pool
// 3×3/2, four layers of BasicBlocks (18/34) or Bottlenecks (50+), drop path on the residual branch with a
// rate growing linearly over blocks, 1×1-conv + BN shortcut when the shape changes. Parameter names are
// timm's state_dict keys (graph order = state_dict order); inits are timm's `init_weights`.

import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../ir/builder.js'
import type { Backbone } from './backbone.js'
import { batchNorm, conv2d, globalAvgPool, linear, maxPool, relu, dropPath } from './layers.js'
import type { Four } from './blocks.js'
import { dropPathRates, kaimingNormalFanOut, residual, zeros } from './blocks.js'

/** Residual block kind: BasicBlock (expansion 1) or Bottleneck (expansion 4). */
export type BlockKind = 'basic' | 'bottleneck'

/** Output channels of a block of width `planes`. */
export const expansion = (k: BlockKind): number => (k === 'basic' ? 1 : 4)

/** Options of one residual block. */
export interface BlockOptions {
  /** Width (`planes`); the block outputs planes·expansion channels. */
  readonly planes: number
  readonly stride: number
  /** Add the `downsample.0/1` (1×1 conv stride s + BN) shortcut. */
  readonly downsample: boolean
  /** Drop-path rate of the residual branch. */
  readonly dropPath: number
}

/** conv without bias, timm kaiming-normal (fan_out) init. */
const conv = (name: string, out: number, kernel: number, stride: number) =>
  conv2d(name, { out, kernel, stride, padding: Math.floor(kernel / 2), bias: false, init: kaimingNormalFanOut(out, kernel) })

/** The block's output after `relu(branch + shortcut)`, module path `p` (e.g. `layer2.0`). */
const finish = (p: string, x: Value, branch: Value, o: BlockOptions, outCh: number): Value => {
  const dropped = pipe(branch, dropPath(o.dropPath))
  const shortcut = o.downsample ? pipe(x, conv(`${p}.downsample.0`, outCh, 1, o.stride), batchNorm(`${p}.downsample.1`)) : x
  return relu(residual(p)(dropped, shortcut))
}

/** timm BasicBlock: conv1 3×3/s → bn1 → relu → conv2 3×3 → bn2 (zero-init) → drop path → + shortcut → relu. */
export const basicBlock = (p: string, o: BlockOptions) => (x: Value): Value =>
  finish(
    p,
    x,
    pipe(x, conv(`${p}.conv1`, o.planes, 3, o.stride), batchNorm(`${p}.bn1`), relu, conv(`${p}.conv2`, o.planes, 3, 1), batchNorm(`${p}.bn2`, { weightInit: zeros })),
    o,
    o.planes,
  )

/** timm Bottleneck: 1×1 → bn1 → relu → 3×3/s → bn2 → relu → 1×1 (4w) → bn3 (zero-init) → drop path → + shortcut → relu. */
export const bottleneck = (p: string, o: BlockOptions) => (x: Value): Value =>
  finish(
    p,
    x,
    pipe(
      x,
      conv(`${p}.conv1`, o.planes, 1, 1),
      batchNorm(`${p}.bn1`),
      relu,
      conv(`${p}.conv2`, o.planes, 3, o.stride),
      batchNorm(`${p}.bn2`),
      relu,
      conv(`${p}.conv3`, o.planes * 4, 1, 1),
      batchNorm(`${p}.bn3`, { weightInit: zeros }),
    ),
    o,
    o.planes * 4,
  )

/** timm ResNet stem: conv1 7×7/2 (no bias) → bn1 → relu → maxpool 3×3/2 p1 (stride 4 in total). */
export const resnetStem = (width: number) => (x: Value): Value =>
  pipe(x, conv2d('conv1', { out: width, kernel: 7, stride: 2, padding: 3, bias: false, init: kaimingNormalFanOut(width, 7) }), batchNorm('bn1'), relu, maxPool({ kernel: 3, stride: 2, padding: 1 }, 'maxpool'))

/** A ResNet configuration. */
export interface ResNetConfig {
  readonly block: BlockKind
  readonly depths: Four<number>
  /** Widths (`planes`) of layer1..4; timm: 64/128/256/512. */
  readonly widths?: Four<number>
  /** Stem output channels; timm: 64. */
  readonly stemWidth?: number
}

/** Depths of the timm models in the zoo. */
export const resnetConfigs = {
  resnet18: { block: 'basic', depths: [2, 2, 2, 2] },
  resnet34: { block: 'basic', depths: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', depths: [3, 4, 6, 3] },
  resnet101: { block: 'bottleneck', depths: [3, 4, 23, 3] },
  resnet152: { block: 'bottleneck', depths: [3, 8, 36, 3] },
  resnet200: { block: 'bottleneck', depths: [3, 24, 36, 3] },
} as const satisfies Readonly<Record<string, ResNetConfig>>

/** Builds a timm-style ResNet backbone; features = [layer1, layer2, layer3, layer4] (strides 4/8/16/32). */
export const resnet = (name: string, cfg: ResNetConfig, o: { readonly dropPath?: number } = {}): Backbone => {
  const widths = cfg.widths ?? [64, 128, 256, 512]
  const stem = cfg.stemWidth ?? 64
  const exp = expansion(cfg.block)
  const block = cfg.block === 'basic' ? basicBlock : bottleneck
  const rates = dropPathRates(o.dropPath ?? 0, cfg.depths.reduce((a, b) => a + b, 0))
  const features = (x: Value): ReadonlyArray<Value> => {
    const feats: Value[] = []
    let y = resnetStem(stem)(x)
    let inCh = stem
    let idx = 0
    for (const [li, planes] of widths.entries()) {
      const stride = li === 0 ? 1 : 2
      for (let bi = 0; bi < (cfg.depths[li] ?? 0); bi++) {
        const first = bi === 0
        const s = first ? stride : 1
        y = block(`layer${li + 1}.${bi}`, { planes, stride: s, downsample: first && (s !== 1 || inCh !== planes * exp), dropPath: rates[idx++] ?? 0 })(y)
        inCh = planes * exp
      }
      feats.push(y)
    }
    return feats
  }
  return {
    name,
    family: 'resnet',
    downsampleRatio: 32,
    featureChannels: widths.map((w) => w * exp),
    inChannels: 3,
    features,
    // timm leaves `fc` at PyTorch's Linear default init (its init_weights only touches convs and BNs).
    head: (last, numClasses) => pipe(last, globalAvgPool, linear('fc', numClasses)),
  }
}
