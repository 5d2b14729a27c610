// Multinomial logistic regression for the linear probe: standardise the features with the train split's
// mean/std, then minimise mean softmax cross-entropy + (λ/2)·||W||² by full-batch Adam from zero weights
// (deterministic: no sampling). Written by hand because the problem is tiny (≤ 10k × ~500 features × 10
// classes: one gradient is a few ms in plain loops) and no maintained JS library fits without weight.

/** A dense row-major matrix of n rows × d columns. */
export interface Features {
  readonly n: number
  readonly d: number
  readonly data: Float32Array
}

/** Column mean and std of `train` (std floored at 1e-6), applied to each given matrix. */
export const standardise = (train: Features, ...others: ReadonlyArray<Features>): ReadonlyArray<Features> => {
  const { n, d } = train
  const mean = new Float64Array(d)
  const sq = new Float64Array(d)
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const v = train.data[i * d + j] ?? 0
      mean[j] = (mean[j] ?? 0) + v
      sq[j] = (sq[j] ?? 0) + v * v
    }
  const std = new Float64Array(d)
  for (let j = 0; j < d; j++) {
    mean[j] = (mean[j] ?? 0) / Math.max(1, n)
    std[j] = Math.max(1e-6, Math.sqrt(Math.max(0, (sq[j] ?? 0) / Math.max(1, n) - (mean[j] ?? 0) ** 2)))
  }
  return [train, ...others].map((f) => {
    const out = new Float32Array(f.data.length)
    for (let i = 0; i < f.n; i++) for (let j = 0; j < d; j++) out[i * d + j] = ((f.data[i * d + j] ?? 0) - (mean[j] ?? 0)) / (std[j] ?? 1)
    return { n: f.n, d, data: out }
  })
}

/** A fitted linear classifier: W (d × k) and b (k). */
export interface LinearClassifier {
  readonly d: number
  readonly k: number
  readonly w: Float64Array
  readonly b: Float64Array
}

/** Options of `fitLogistic`. */
export interface LogisticOptions {
  readonly classes: number
  /** L2 weight on W (default 1e-4). */
  readonly l2?: number
  /** Full-batch Adam iterations (default 300) and step (default 0.05). */
  readonly iterations?: number
  readonly lr?: number
}

// Hot loops read typed arrays with `!`: every index is in range by construction (i < n, j < d, c < k).
const logits = (c: LinearClassifier, x: Features, i: number, out: Float64Array): void => {
  const { d, k, w, b } = c
  const X = x.data
  for (let q = 0; q < k; q++) out[q] = b[q]!
  for (let j = 0, o = i * d; j < d; j++) {
    const v = X[o + j]!
    if (v === 0) continue
    for (let q = 0, r = j * k; q < k; q++) out[q] = out[q]! + v * w[r + q]!
  }
}

/** Fits the classifier; returns it and the final training loss. */
export const fitLogistic = (x: Features, y: ArrayLike<number>, o: LogisticOptions): { readonly model: LinearClassifier; readonly loss: number } => {
  const { d } = x
  const k = o.classes
  const l2 = o.l2 ?? 1e-4
  const iters = o.iterations ?? 300
  const lr = o.lr ?? 0.05
  const model: LinearClassifier = { d, k, w: new Float64Array(d * k), b: new Float64Array(k) }
  const np = d * k + k
  const m = new Float64Array(np)
  const v = new Float64Array(np)
  const g = new Float64Array(np)
  const z = new Float64Array(k)
  const X = x.data
  let loss = NaN
  for (let t = 1; t <= iters; t++) {
    g.fill(0)
    loss = 0
    for (let i = 0; i < x.n; i++) {
      logits(model, x, i, z)
      let mx = -Infinity
      for (let c = 0; c < k; c++) mx = Math.max(mx, z[c]!)
      let s = 0
      for (let c = 0; c < k; c++) s += Math.exp(z[c]! - mx)
      const yi = y[i] ?? 0
      loss += Math.log(s) + mx - (z[yi] ?? 0)
      for (let c = 0; c < k; c++) z[c] = Math.exp(z[c]! - mx) / s - (c === yi ? 1 : 0)
      for (let j = 0, o = i * d; j < d; j++) {
        const xv = X[o + j]!
        if (xv === 0) continue
        for (let c = 0, r = j * k; c < k; c++) g[r + c] = g[r + c]! + xv * z[c]!
      }
      for (let c = 0; c < k; c++) g[d * k + c] = g[d * k + c]! + z[c]!
    }
    const inv = 1 / Math.max(1, x.n)
    loss *= inv
    for (let p = 0; p < d * k; p++) loss += 0.5 * l2 * model.w[p]! ** 2
    const bc1 = 1 - 0.9 ** t
    const bc2 = 1 - 0.999 ** t
    for (let p = 0; p < np; p++) {
      const gp = g[p]! * inv + (p < d * k ? l2 * model.w[p]! : 0)
      m[p] = 0.9 * m[p]! + 0.1 * gp
      v[p] = 0.999 * v[p]! + 0.001 * gp * gp
      const step = (lr * (m[p]! / bc1)) / (Math.sqrt(v[p]! / bc2) + 1e-8)
      if (p < d * k) model.w[p] = model.w[p]! - step
      else model.b[p - d * k] = model.b[p - d * k]! - step
    }
  }
  return { model, loss }
}

/** Predicted class of every row. */
export const predict = (c: LinearClassifier, x: Features): Int32Array => {
  const out = new Int32Array(x.n)
  const z = new Float64Array(c.k)
  for (let i = 0; i < x.n; i++) {
    logits(c, x, i, z)
    let best = 0
    for (let k = 1; k < c.k; k++) if ((z[k] ?? 0) > (z[best] ?? 0)) best = k
    out[i] = best
  }
  return out
}

/** Fraction of equal entries. */
export const accuracy = (pred: ArrayLike<number>, y: ArrayLike<number>): number => {
  let ok = 0
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) ok++
  return y.length === 0 ? NaN : ok / y.length
}
