// The reference kernel table: one float64 kernel per op kind, as a mapped type over OpKind so that a new
// op fails to compile until the oracle can compute it. Kernels live in family files (conv, norm, pool,
// elementwise, layout, mask). `input` and `param` have no computation: the interpreter binds them to the given
// values, so their entries only guard against being called.

import type { OpKind } from '../../ir/ops.js'
import type { RefKernel } from './kernels-types.js'
import * as conv from './kernels-conv.js'
import * as norm from './kernels-norm.js'
import * as pool from './kernels-pool.js'
import * as ew from './kernels-elementwise.js'
import * as layout from './kernels-layout.js'
import * as mask from './kernels-mask.js'
import { maskedPatchLoss } from './loss.js'
import { f64 } from './tensor.js'
import { input } from './kernels-types.js'

export type { RefKernel } from './kernels-types.js'

const bound = (what: string) => (): never => {
  throw new Error(`reference: ${what} nodes are bound by evaluate, not computed by a kernel`)
}

/** Float64 reference kernels of every op (PyTorch semantics, NHWC). */
export const refKernels: { readonly [K in OpKind]: RefKernel<K> } = {
  input: bound('input'),
  param: bound('param'),
  conv2d: conv.conv2d,
  conv2dTranspose: conv.conv2dTranspose,
  batchNorm: norm.batchNorm,
  layerNorm: norm.layerNorm,
  groupNorm: norm.groupNorm,
  grn: norm.grn,
  linear: conv.linear,
  relu: ew.relu,
  relu6: ew.relu6,
  gelu: ew.gelu,
  silu: ew.silu,
  sigmoid: ew.sigmoid,
  add: ew.add,
  mul: ew.mul,
  maxPool: pool.maxPool,
  avgPool: pool.avgPool,
  globalAvgPool: pool.globalAvgPool,
  concat: layout.concat,
  reshape: layout.reshape,
  transpose: layout.transpose,
  dropPath: ew.dropPath,
  maskLike: mask.maskLike,
  maskedBatchNorm: mask.maskedBatchNorm,
  maskedGroupNorm: mask.maskedGroupNorm,
  maskedGlobalAvgPool: mask.maskedGlobalAvgPool,
  maskFill: mask.maskFill,
  maskedPatchLoss: (n, ins) => f64([], [maskedPatchLoss(input(ins, 0, n.op), input(ins, 1, n.op), input(ins, 2, n.op), n.params.eps)]),
}
