// A user-defined backbone in a few lines: four conv-BN-ReLU stages (stride 4, then 2, 2, 2 → total 32)
// composed with fp-ts `pipe` and the layer helpers. Any object implementing `Backbone` can be pretrained
// with SparK exactly like a zoo model; parameter names are whatever the layer helpers are given.

import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../src/ir/builder.js'
import type { Backbone } from '../src/models/backbone.js'
import { batchNorm, conv2d, globalAvgPool, linear, relu } from '../src/models/layers.js'

const widths = [32, 64, 128, 256] as const

/** Stage i: conv (4×4/4 patchify for i = 0, else 3×3/2) → BN → ReLU, named like an `nn.Sequential`. */
const stage = (i: number, out: number) => (x: Value): Value =>
  pipe(
    x,
    conv2d(`stages.${i}.0`, i === 0 ? { out, kernel: 4, stride: 4, padding: 0, bias: false } : { out, kernel: 3, stride: 2, padding: 1, bias: false }),
    batchNorm(`stages.${i}.1`),
    relu,
  )

/** A 4-stage CNN: features at strides 4/8/16/32, largest first; a linear classifier head. */
export const tinyNet: Backbone = {
  name: 'tiny_net',
  family: 'custom',
  downsampleRatio: 32,
  featureChannels: widths,
  inChannels: 3,
  features: (x) => widths.reduce<Value[]>((fs, w, i) => [...fs, stage(i, w)(fs[i - 1] ?? x)], []),
  head: (last, numClasses) => pipe(last, globalAvgPool, linear('fc', numClasses)),
}

export default tinyNet
