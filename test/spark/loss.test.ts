// SparK's loss against the official PyTorch forward of the spark-tiny fixture: the same reconstruction,
// image and mask give the same loss. Tolerance 1e-5 relative: the fixture records that float32 and
// float64 runs of the official code differ by 5e-8 on this loss (README.json "checks"), and our float32
// tfjs reductions over 3072-value patches add ~1e-6.

import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { getBackend } from '../../src/backends/index.js'
import { maskedPatchLoss as refLoss } from '../../src/backends/reference/loss.js'
import { fromHost } from '../../src/backends/reference/tensor.js'
import { maskedPatchLoss } from '../../src/backends/tfjs/loss.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { get, loadOracle, toNhwc } from './oracle.js'

const fx = loadOracle('forward-oracle.safetensors')
const img = toNhwc(get(fx, 'fwd.input'))
const rec = toNhwc(get(fx, 'fwd.rec'))
const mask = toNhwc(get(fx, 'fwd.active_mask'))
const official = get(fx, 'fwd.loss').data[0] ?? NaN

describe('SparK loss ≡ official code (spark-tiny fixture)', () => {
  it('reference float64 kernel reproduces the loss', () => {
    const l = refLoss(fromHost(rec), fromHost(img), fromHost(mask), 1e-6)
    expect(Math.abs(l - official) / Math.abs(official)).toBeLessThan(1e-5)
  })

  it('ignores the reconstruction at visible patches and is not trivially zero', () => {
    const visibleChanged = { ...rec, data: rec.data.map((v, i) => {
      const [h, w, c] = [96, 96, 3]
      const b = Math.floor(i / (h * w * c))
      const y = Math.floor(i / (w * c)) % h
      const x = Math.floor(i / c) % w
      return (mask.data[(b * 3 + Math.floor(y / 32)) * 3 + Math.floor(x / 32)] ?? 0) === 1 ? v + 10 : v
    }) }
    expect(official).toBeGreaterThan(0.1)
    expect(refLoss(fromHost(visibleChanged), fromHost(img), fromHost(mask), 1e-6)).toBeCloseTo(refLoss(fromHost(rec), fromHost(img), fromHost(mask), 1e-6), 12)
  })

  it('tfjs (wasm) lowering reproduces the loss', async () => {
    const b = await getBackend('tfjs-wasm')
    if (E.isLeft(b)) return void console.log(`skipping: ${b.left}`)
    await tf.setBackend('wasm')
    const l = tf.tidy(() => maskedPatchLoss(tf.tensor(rec.data, [...rec.shape]), tf.tensor(img.data, [...img.shape]), tf.tensor(mask.data, [...mask.shape]), 1e-6).dataSync()[0] ?? NaN)
    expect(Math.abs(l - official) / Math.abs(official)).toBeLessThan(1e-5)
  })
})
