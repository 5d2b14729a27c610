// The tiny ResNet-like CNN of the SparK oracle fixture (/work/shared/fixtures/spark-tiny), called
// `spark_tiny_resnet` in the official code: stem conv 7×7/2 3→16 + BN + ReLU + max-pool 3×3/2, then one
// timm BasicBlock per layer (widths 16/32/48/64, strides 1/2/2/2, downsample shortcut on layers 2–4).
// Built from the zoo's ResNet blocks, so its parameter names equal the fixture's timm-style keys
// (`conv1.weight`, `layer2.0.downsample.1.bias`…). It is in the zoo because SparK checkpoints name their
// architecture (`arch: "spark_tiny_resnet"`), and `sparkts reconstruct` resolves that name there.

import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../ir/builder.js'
import type { Backbone } from './backbone.js'
import { basicBlock, resnetStem } from './resnet.js'

/** The fixture's tiny CNN: 4 feature maps of 16/32/48/64 channels at strides 4/8/16/32. */
export const sparkTinyCnn: Backbone = {
  name: 'spark_tiny_resnet',
  // 'resnet' (not 'custom'): SparK picks its defaults by name, and the fixture's name contains "resnet" (densify norm bn).
  family: 'resnet',
  downsampleRatio: 32,
  featureChannels: [16, 32, 48, 64],
  inChannels: 3,
  features: (x: Value) => {
    const f1 = pipe(x, resnetStem(16), basicBlock('layer1.0', { planes: 16, stride: 1, downsample: false, dropPath: 0 }))
    const f2 = basicBlock('layer2.0', { planes: 32, stride: 2, downsample: true, dropPath: 0 })(f1)
    const f3 = basicBlock('layer3.0', { planes: 48, stride: 2, downsample: true, dropPath: 0 })(f2)
    const f4 = basicBlock('layer4.0', { planes: 64, stride: 2, downsample: true, dropPath: 0 })(f3)
    return [f1, f2, f3, f4]
  },
}
