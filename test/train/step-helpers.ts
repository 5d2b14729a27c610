// Shared pieces of the training-step tests: a tiny ResNet-like backbone whose total stride (16) gives a
// 4×4 mask grid at 64 px (the fixture CNN's stride 32 would leave 2×2), and synthetic images with
// learnable structure, generated from a seed: per image a fine stripe texture (period 8 px, horizontal or
// vertical, grid-aligned phase: a prior a model can learn, whose orientation the visible patches reveal)
// under a few smooth oriented waves and Gaussian blobs with random colours (nuisance to see through).

import type { Backbone } from '../../src/models/backbone.js'
import { basicBlock, resnetStem } from '../../src/models/resnet.js'
import type { HostTensor } from '../../src/ir/types.js'
import { makeRng } from '../../src/util/rng.js'

/** Stem (stride 4) + three BasicBlocks: features of 16/24/32 channels at strides 4/8/16. */
export const tinyResnet16: Backbone = {
  name: 'tiny_resnet16',
  family: 'resnet',
  downsampleRatio: 16,
  featureChannels: [16, 24, 32],
  inChannels: 3,
  features: (x) => {
    const f1 = basicBlock('layer1.0', { planes: 16, stride: 1, downsample: false, dropPath: 0 })(resnetStem(16)(x))
    const f2 = basicBlock('layer2.0', { planes: 24, stride: 2, downsample: true, dropPath: 0 })(f1)
    const f3 = basicBlock('layer3.0', { planes: 32, stride: 2, downsample: true, dropPath: 0 })(f2)
    return [f1, f2, f3]
  },
}

/** `n` images (n, size, size, 3), roughly zero-mean unit-variance, deterministic in `seed`. */
export const syntheticImages = (n: number, size: number, seed: number): HostTensor => {
  const r = makeRng(seed)
  const data = new Float32Array(n * size * size * 3)
  for (let b = 0; b < n; b++) {
    const waves = Array.from({ length: 2 }, () => {
      const theta = Math.PI * r.uniform()
      const freq = (2 * Math.PI * (1 + 2 * r.uniform())) / size
      return { kx: freq * Math.cos(theta), ky: freq * Math.sin(theta), phase: 2 * Math.PI * r.uniform(), colour: [r.normal(), r.normal(), r.normal()] }
    })
    const blobs = Array.from({ length: 3 }, () => ({ cx: size * r.uniform(), cy: size * r.uniform(), s: size * (0.08 + 0.12 * r.uniform()), colour: [r.normal(), r.normal(), r.normal()] }))
    const vertical = r.uniform() < 0.5
    const stripeColour = [1 + 0.3 * r.normal(), 1 + 0.3 * r.normal(), 1 + 0.3 * r.normal()]
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        for (let c = 0; c < 3; c++) {
          let v = 1.5 * (stripeColour[c] ?? 0) * Math.sin((2 * Math.PI * (vertical ? x : y)) / 8 + 0.5)
          for (const w of waves) v += (w.colour[c] ?? 0) * Math.sin(w.kx * x + w.ky * y + w.phase)
          for (const bl of blobs) v += 1.5 * (bl.colour[c] ?? 0) * Math.exp(-((x - bl.cx) ** 2 + (y - bl.cy) ** 2) / (2 * bl.s * bl.s))
          data[((b * size + y) * size + x) * 3 + c] = v / 1.5
        }
  }
  return { shape: [n, size, size, 3], data }
}

/** Rows `from … from+count−1` of an (N, …) host tensor. */
export const sliceBatch = (t: HostTensor, from: number, count: number): HostTensor => {
  const per = t.data.length / (t.shape[0] ?? 1)
  return { shape: [count, ...t.shape.slice(1)], data: t.data.slice(from * per, (from + count) * per) }
}
