// ImageNet mean/std normalisation (the constants of torchvision and SparK's pipelines) between float
// images in [0, 1] and the (B, H, W, 3) NHWC tensors the models take, and back for display.

import type { HostTensor } from '../ir/types.js'
import type { FloatImage } from './image.js'

/** ImageNet channel means (RGB). */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406]
/** ImageNet channel standard deviations (RGB). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225]

/** (x − mean) / std per channel: a (1, H, W, 3) tensor. */
export const normaliseImage = (img: FloatImage): HostTensor => {
  const data = new Float32Array(img.data.length)
  for (let i = 0; i < data.length; i++) data[i] = ((img.data[i] ?? 0) - (IMAGENET_MEAN[i % 3] ?? 0)) / (IMAGENET_STD[i % 3] ?? 1)
  return { shape: [1, img.height, img.width, 3], data }
}

/** Sample `b` of a normalised (B, H, W, 3) tensor back to an image: clamp(x·std + mean, 0, 1). */
export const denormaliseImage = (t: HostTensor, b = 0): FloatImage => {
  const [, height = 0, width = 0, c] = t.shape
  if (t.shape.length !== 4 || c !== 3) throw new RangeError(`denormaliseImage expects (B, H, W, 3), got [${t.shape.join(', ')}]`)
  const n = height * width * 3
  const data = new Float32Array(n)
  for (let i = 0; i < n; i++) data[i] = Math.min(1, Math.max(0, (t.data[b * n + i] ?? 0) * (IMAGENET_STD[i % 3] ?? 1) + (IMAGENET_MEAN[i % 3] ?? 0)))
  return { width, height, data }
}
