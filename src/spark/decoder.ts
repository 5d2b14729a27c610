// SparK's LightDecoder (spec §4): a dense UNet that starts at the coarsest densified feature map and
// doubles the resolution log2(downsampleRatio) times. Each UNetBlock(cin, cout) is
// ConvTranspose2d(cin, cin, 4, 2, 1) → conv3×3(cin→cin, no bias) → BN → ReLU6 → conv3×3(cin→cout, no bias)
// → BN. There is no activation after the last BN. The densified map of scale k is added before block k.
// A 1×1 conv then projects to 3 channels. Names and initialisation are the official code's, so
// `dense_decoder.*` keys of a SparK checkpoint load by name: Conv2d trunc-normal std 0.02 with bias 0,
// ConvTranspose2d Kaiming-normal over fan_out = in·kh·kw (PyTorch reads fan_out from dim 0 of its
// (in, out, kh, kw) weight) with bias 0, and BN weight 1, bias 0.

import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../ir/builder.js'
import { batchNorm, conv2d, convTranspose2d, relu6 } from '../models/layers.js'
import { truncNormal02, zeros } from '../models/blocks.js'

/** Channels of the decoder stages: width / 2^k for k = 0..log2(downsampleRatio). */
export const decoderChannels = (width: number, downsampleRatio: number): ReadonlyArray<number> => {
  const n = Math.round(Math.log2(downsampleRatio))
  return Array.from({ length: n + 1 }, (_, k) => Math.floor(width / 2 ** k))
}

/** One UNetBlock, named `<prefix>.up_sample`, `<prefix>.conv.{0,1,3,4}`. */
export const unetBlock = (prefix: string, cin: number, cout: number) => (x: Value): Value =>
  pipe(
    x,
    convTranspose2d(`${prefix}.up_sample`, { out: cin, kernel: 4, stride: 2, padding: 1, init: { kind: 'normal', std: Math.sqrt(2 / (cin * 16)) }, biasInit: zeros }),
    conv2d(`${prefix}.conv.0`, { out: cin, kernel: 3, padding: 1, bias: false, init: truncNormal02 }),
    batchNorm(`${prefix}.conv.1`),
    relu6,
    conv2d(`${prefix}.conv.3`, { out: cout, kernel: 3, padding: 1, bias: false, init: truncNormal02 }),
    batchNorm(`${prefix}.conv.4`),
  )

/**
 * The decoder: `toDec[k]` (smallest scale first, at channels decoderChannels[k]) is added before block k
 * (absent or undefined entries are skipped); returns the (B, H, W, outChannels) reconstruction.
 */
export const lightDecoder = (toDec: ReadonlyArray<Value | undefined>, o: { readonly width: number; readonly downsampleRatio: number; readonly outChannels?: number; readonly prefix?: string }): Value => {
  const c = decoderChannels(o.width, o.downsampleRatio)
  const prefix = o.prefix ?? 'dense_decoder'
  const first = toDec.find((v) => v !== undefined)
  if (first === undefined) throw new RangeError('lightDecoder: no densified feature map to decode')
  let x: Value | undefined
  for (let k = 0; k < c.length - 1; k++) {
    const skip = toDec[k]
    x = x === undefined ? skip : skip === undefined ? x : x.builder.node('add', [x, skip], {}, `${prefix}.dec.${k}.skip`)
    if (x === undefined) continue
    x = unetBlock(`${prefix}.dec.${k}`, c[k] ?? 0, c[k + 1] ?? 0)(x)
  }
  if (x === undefined) throw new RangeError('lightDecoder: nothing to decode')
  return conv2d(`${prefix}.proj`, { out: o.outChannels ?? 3, kernel: 1, padding: 0, init: truncNormal02, biasInit: zeros })(x)
}
