// Reference pooling kernels (PyTorch MaxPool2d / AvgPool2d without ceil_mode, NHWC). A window of output
// (oh, ow) covers input rows oh·sh − top + i (i < kh) and columns ow·sw − left + j (j < kw); positions
// outside the input are padding: −∞ for max, 0 for average. Without ceil_mode no window leaves the padded
// input, so countIncludePad's divisor is always kh·kw (PyTorch's clipping to H + pad never bites).

import type { Padding, Pair } from '../../ir/ops.js'
import type { ConcreteShape } from '../../ir/types.js'
import { dim, f64, get } from './tensor.js'
import type { F64Tensor } from './tensor.js'
import type { RefKernel } from './kernels-types.js'
import { input } from './kernels-types.js'

/** Reduces every window with `reduce(values inside the input, window size)`. */
const pool = (
  x: F64Tensor,
  outType: ConcreteShape,
  window: Pair,
  strides: Pair,
  padding: Padding,
  reduce: (inside: ReadonlyArray<number>, size: number) => number,
): F64Tensor => {
  const [N, H, W, C] = [dim(x.shape, 0), dim(x.shape, 1), dim(x.shape, 2), dim(x.shape, 3)]
  const [OH, OW] = [dim(outType, 1), dim(outType, 2)]
  const [[top], [left]] = padding
  const out = f64(outType)
  for (let b = 0; b < N; b++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let c = 0; c < C; c++) {
          const inside: number[] = []
          for (let i = 0; i < window[0]; i++)
            for (let j = 0; j < window[1]; j++) {
              const h = oh * strides[0] - top + i
              const w = ow * strides[1] - left + j
              if (h >= 0 && h < H && w >= 0 && w < W) inside.push(get(x.data, ((b * H + h) * W + w) * C + c))
            }
          out.data[((b * OH + oh) * OW + ow) * C + c] = reduce(inside, window[0] * window[1])
        }
  return out
}

/** maxPool: the maximum over the window, padding counting as −∞ (NaN propagates as in PyTorch). */
export const maxPool: RefKernel<'maxPool'> = (n, ins, outType) =>
  pool(input(ins, 0, 'maxPool'), outType, n.params.window, n.params.strides, n.params.padding, (vs) =>
    vs.reduce((m, v) => (Number.isNaN(m) ? m : Number.isNaN(v) || v > m ? v : m), -Infinity))

/** avgPool: the sum over the window divided by kh·kw (countIncludePad) or by the non-padding count. */
export const avgPool: RefKernel<'avgPool'> = (n, ins, outType) =>
  pool(input(ins, 0, 'avgPool'), outType, n.params.window, n.params.strides, n.params.padding, (vs, size) =>
    vs.reduce((s, v) => s + v, 0) / (n.params.countIncludePad ? size : vs.length))

/** globalAvgPool: NHWC → (N, C), the mean over H × W. */
export const globalAvgPool: RefKernel<'globalAvgPool'> = (_n, ins, outType) => {
  const x = input(ins, 0, 'globalAvgPool')
  const [N, C] = [dim(x.shape, 0), dim(x.shape, 3)]
  const HW = dim(x.shape, 1) * dim(x.shape, 2)
  const out = f64(outType)
  for (let b = 0; b < N; b++)
    for (let c = 0; c < C; c++) {
      let s = 0
      for (let p = 0; p < HW; p++) s += get(x.data, (b * HW + p) * C + c)
      out.data[b * C + c] = s / HW
    }
  return out
}
