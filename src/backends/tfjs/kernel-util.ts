// Helpers for writing tfjs kernels out of other tfjs ops. Inside a kernel the gradient tape is off
// (kernelDepth > 0), so ops compose freely, but two ownership rules must hold or the backend leaks or
// frees twice (found by probing tfjs 4.22): `engine.makeTensorFromTensorInfo` does not raise the backend
// refcount while `dispose` lowers it, so an input is wrapped only after `backend.incRef`; and the result
// is handed to the engine by raising its refcount before disposing our own handle, so that exactly the
// engine's output tensor owns the data. Also: index helpers shared by the conv-gradient kernels.

import { tf } from './tf.js'

/** A kernel body: wrapped inputs and attributes in, one tensor out (may use any tf op). */
export type KernelBody = (ins: Readonly<Record<string, tf.Tensor>>, attrs: tf.NamedAttrMap) => tf.Tensor

const wrap = (backend: tf.KernelBackend, t: tf.TensorInfo): tf.Tensor => {
  backend.incRef(t.dataId)
  return tf.engine().makeTensorFromTensorInfo(t, backend)
}

const handOver = (backend: tf.KernelBackend, t: tf.Tensor): tf.TensorInfo => {
  backend.incRef(t.dataId)
  const info: tf.TensorInfo = { dataId: t.dataId, shape: t.shape, dtype: t.dtype }
  t.dispose()
  return info
}

/** A kernel config for `backendName` whose body is written with tf ops. */
export const composedKernel = (kernelName: string, backendName: string, body: KernelBody): tf.KernelConfig => ({
  kernelName,
  backendName,
  kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as tf.KernelBackend
    const out = tf.tidy(() => {
      const ins: Record<string, tf.Tensor> = {}
      for (const [k, v] of Object.entries(inputs)) if (v !== undefined) ins[k] = wrap(backend, v)
      return body(ins, attrs ?? {})
    })
    return handOver(backend, out)
  },
})

/** Reads a required kernel input (kernel inputs are named by tfjs's kernel_names). */
export const need = (ins: Readonly<Record<string, tf.Tensor>>, k: string): tf.Tensor4D => {
  const t = ins[k]
  if (t === undefined || t.rank !== 4) throw new Error(`kernel input '${k}' missing or not rank 4`)
  return t as tf.Tensor4D
}

/** Pads (positive) or crops (negative) axes 1 and 2 of an NHWC tensor: [[top,bottom],[left,right]]. */
export const padOrCrop = (x: tf.Tensor4D, p: readonly [readonly [number, number], readonly [number, number]], value = 0): tf.Tensor4D => {
  const [[t, b], [l, r]] = p
  const [n, h, w, c] = x.shape
  let y = x
  if (t < 0 || b < 0 || l < 0 || r < 0) {
    const ct = Math.max(0, -t), cb = Math.max(0, -b), cl = Math.max(0, -l), cr = Math.max(0, -r)
    y = tf.slice(y, [0, ct, cl, 0], [n, h - ct - cb, w - cl - cr, c])
  }
  if (t > 0 || b > 0 || l > 0 || r > 0)
    y = tf.pad(y, [[0, 0], [Math.max(0, t), Math.max(0, b)], [Math.max(0, l), Math.max(0, r)], [0, 0]], value)
  return y
}

/**
 * Zero insertion by the stride: out[n, y·sh, x·sw, c] = t[n, y, x, c], zeros elsewhere; the output has
 * (OH·sh, OW·sw) rows/cols, i.e. sh−1 (sw−1) trailing zero rows (cols) beyond the last sample. Rank-4 pads
 * only: rows via (N, OH, 1, OW·C) padded on axis 2, cols via (N·OH·sh, OW, 1, C).
 */
export const zeroInsert = (t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D => {
  const [n, oh, ow, c] = t.shape
  let y = t
  if (sh > 1) y = tf.reshape(tf.pad(tf.reshape(y, [n, oh, 1, ow * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]), [n, oh * sh, ow, c])
  if (sw > 1) y = tf.reshape(tf.pad(tf.reshape(y, [n * oh * sh, ow, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]), [n, oh * sh, ow * sw, c])
  return y
}
