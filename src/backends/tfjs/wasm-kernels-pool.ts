// An exact MaxPoolGrad for tfjs-wasm 4.22, whose stock kernel routes the gradient to the wrong element when
// every value of a window is negative. The usual patch (run the stock kernel on x − min(x) + 1) is not exact:
// the shift rounds, can create ties, and overflows when padding is −Infinity or −3.4e38. Instead the gradient
// is composed of exact ops: for each of the k_h·k_w window offsets (i, j) in row-major order, take the
// strided slice x_ij[o] = xp[o·s + (i, j)] of the (−Infinity)-padded input, mark where it equals the pooled
// output y and the window has not been claimed by an earlier offset (ties go to the first maximum, as the
// cpu kernel does), route dy there, zero-insert by the stride and shift by (i, j) back into place. Only
// comparisons, selects and adds of dy values: the routing is exact.

import { tf } from './tf.js'
import type { KernelBody } from './kernel-util.js'
import { need, padOrCrop, zeroInsert } from './kernel-util.js'
import { convAttrs } from './wasm-kernels-conv.js'

const windowSize = (v: unknown): [number, number] | number => {
  if (typeof v === 'number') return v
  if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'number') return [v[0], v[1]]
  throw new Error('bad filterSize attribute')
}

/** MaxPoolGrad: inputs {dy, input, output}; attrs filterSize, strides, pad, dimRoundingMode. */
export const maxPoolGrad: KernelBody = (ins, attrs) => {
  const dy = need(ins, 'dy'), x = need(ins, 'input'), y = need(ins, 'output')
  const a = convAttrs(attrs)
  const c = tf.backend_util.computePool2DInfo(x.shape, windowSize(attrs['filterSize']), a.strides, 1, a.pad, a.dimRoundingMode)
  const { top, bottom, left, right } = c.padInfo
  const [sh, sw] = [c.strideHeight, c.strideWidth]
  const [oh, ow] = [c.outHeight, c.outWidth]
  const xp = padOrCrop(x, [[top, bottom], [left, right]], -Infinity)
  const [n, hp, wp, ch] = xp.shape
  let free = tf.onesLike(dy).cast('bool')
  let acc: tf.Tensor4D = tf.zeros([n, hp, wp, ch])
  const zero = tf.zerosLike(dy)
  for (let i = 0; i < c.filterHeight; i++) {
    for (let j = 0; j < c.filterWidth; j++) {
      const xs = tf.stridedSlice(xp, [0, i, j, 0], [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, ch], [1, sh, sw, 1])
      const hit = tf.logicalAnd(tf.equal(xs, y), free)
      free = tf.logicalAnd(free, tf.logicalNot(hit))
      const routed = zeroInsert(tf.where(hit, dy, zero), sh, sw)
      acc = tf.add(acc, padOrCrop(routed, [[i, hp - i - oh * sh], [j, wp - j - ow * sw]]))
    }
  }
  return tf.slice(acc, [0, top, left, 0], [x.shape[0], x.shape[1], x.shape[2], x.shape[3]])
}
