// Accurate Sum and Mean for tfjs-wasm 4.22. The stock kernels add all R values of a reduction in one
// float32 running sum, with error growing like R·ε. tfjs-cpu accumulates in JS doubles and does not have
// this problem. The error matters most where a reduction nearly cancels. BatchNorm's backward pass takes
// the mean of a gradient whose terms mostly cancel, and on the official SparK fixture the one-pass sums
// put every upstream gradient off by 0.5–1%. These kernels reduce in blocks of BLOCK values: the input is
// viewed as (outer, R), zero-padded to a multiple of BLOCK, and summed block by block, recursively, so
// the error bound drops to about ε·BLOCK·⌈log_BLOCK R⌉. Each stage is the stock kernel on at most
// BLOCK values, so XNNPACK's speed is kept, at the cost of one extra pass over the data for a large R.

import { tf } from './tf.js'

const BLOCK = 128

type KernelFunc = tf.KernelConfig['kernelFunc']

const wrap = (backend: tf.KernelBackend, t: tf.TensorInfo): tf.Tensor => {
  backend.incRef(t.dataId)
  return tf.engine().makeTensorFromTensorInfo(t, backend)
}

/** A blocked reduction kernel that falls back to `stock` for small reductions and non-float inputs. */
const blocked = (stock: KernelFunc, mean: boolean): KernelFunc => (args) => {
  const x = args.inputs['x']
  const backend = args.backend as tf.KernelBackend
  if (x === undefined) throw new Error('reduce kernel: missing input x')
  const axes = tf.util.parseAxisParam((args.attrs?.['axis'] ?? null) as number | number[], x.shape)
  const [outShape, reduceShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes)
  const r = tf.util.sizeFromShape(reduceShape)
  if (x.dtype !== 'float32' || r <= BLOCK) return stock(args)
  const keepDims = args.attrs?.['keepDims'] === true
  const out = tf.tidy(() => {
    const xt = wrap(backend, x)
    const perm = tf.backend_util.getAxesPermutation(axes, x.shape.length)
    const outer = tf.util.sizeFromShape(outShape)
    const flat = tf.reshape(perm === null ? xt : tf.transpose(xt, perm), [outer, r])
    const padded = r % BLOCK === 0 ? flat : tf.pad(flat, [[0, 0], [0, BLOCK - (r % BLOCK)]])
    // Inner stage: ≤ BLOCK values each (stock kernel); outer stage: this kernel again (recursion on R/BLOCK).
    const partial = tf.sum(tf.reshape(padded, [outer, Math.ceil(r / BLOCK), BLOCK]), 2)
    const total = tf.sum(partial, 1)
    const value = mean ? tf.div(total, r) : total
    return tf.reshape(value, keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape)
  })
  backend.incRef(out.dataId)
  const info: tf.TensorInfo = { dataId: out.dataId, shape: out.shape, dtype: out.dtype }
  out.dispose()
  return info
}

/** Replaces wasm's Sum and Mean by blocked versions (call once, after the wasm backend is registered). */
export const installAccurateReductions = (backendName = 'wasm'): ReadonlyArray<string> => {
  const done: string[] = []
  for (const [name, mean] of [['Sum', false], ['Mean', true]] as const) {
    const stock = tf.getKernel(name, backendName)
    if (stock === undefined) continue
    tf.unregisterKernel(name, backendName)
    tf.registerKernel({ ...stock, kernelFunc: blocked(stock.kernelFunc, mean) })
    done.push(name)
  }
  return done
}
