// Reference layout kernels: concat, reshape and transpose move values without arithmetic. Each output
// element is found from its multi-index, the most literal form of the definition.

import { f64, get, stridesOf, unravel } from './tensor.js'
import type { RefKernel } from './kernels-types.js'
import { input } from './kernels-types.js'

/** concat along `axis` (negative counts from the end): inputs follow each other on that axis. */
export const concat: RefKernel<'concat'> = (n, ins, outType) => {
  const r = outType.length
  const axis = n.params.axis < 0 ? r + n.params.axis : n.params.axis
  const out = f64(outType)
  for (let e = 0; e < out.data.length; e++) {
    const idx = unravel(e, outType)
    let k = idx[axis] ?? 0
    let src = 0
    // Walk the inputs until the one holding position k on the concat axis.
    while (k >= (ins[src]?.shape[axis] ?? Infinity)) {
      k -= ins[src]?.shape[axis] ?? 0
      src++
    }
    const t = input(ins, src, 'concat')
    idx[axis] = k
    const s = stridesOf(t.shape)
    out.data[e] = get(t.data, idx.reduce((acc, v, i) => acc + v * (s[i] ?? 0), 0))
  }
  return out
}

/** reshape: same row-major data, new shape (the batch is kept; −1 was resolved by shape inference). */
export const reshape: RefKernel<'reshape'> = (_n, ins, outType) => f64(outType, input(ins, 0, 'reshape').data)

/** transpose: out[i_0, …, i_{r−1}] = x[j] with j[perm[k]] = i_k (out.shape[k] = x.shape[perm[k]]). */
export const transpose: RefKernel<'transpose'> = (n, ins, outType) => {
  const x = input(ins, 0, 'transpose')
  const s = stridesOf(x.shape)
  const out = f64(outType)
  for (let e = 0; e < out.data.length; e++) {
    const idx = unravel(e, outType)
    out.data[e] = get(x.data, idx.reduce((acc, v, k) => acc + v * (s[n.params.perm[k] ?? 0] ?? 0), 0))
  }
  return out
}
