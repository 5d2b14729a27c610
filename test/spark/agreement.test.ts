// Agreement with the official PyTorch SparK on the spark-tiny fixture: the same weights, image and mask in
// one train-mode forward give the same encoder features, decoder inputs, reconstruction and loss; the
// backward gives the same gradient for every trainable parameter. Tolerances: activations and loss
// ≤ 1e-4 relative to the largest magnitude of the tensor (float32 vs float32; the fixture records
// float32 vs float64 differences of the official code itself up to 6e-6 relative), gradients ≤ 1e-3.

import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../../src/backends/backend.js'
import { getBackend } from '../../src/backends/index.js'
import { fromTorch } from '../../src/convert/torch-layout.js'
import { formatError } from '../../src/ir/errors.js'
import type { HostTensor } from '../../src/ir/types.js'
import { buildSpark } from '../../src/spark/spark.js'
import { sparkTinyCnn } from '../../examples/spark-tiny-cnn.js'
import { get, loadOracle, toNhwc } from './oracle.js'

const fwd = loadOracle('forward-oracle.safetensors')
const optim = loadOracle('optim-oracle.safetensors')
const prefixed = (name: string): string => (/^(densify_|mask_tokens|dense_decoder)/.test(name) ? name : `sparse_encoder.sp_cnn.${name}`)
const state = new Map<string, HostTensor>()
for (const [k, v] of optim) if (k.startsWith('param.')) state.set(k.slice(6), v)
for (const [k, v] of fwd) if (k.startsWith('buffer.')) state.set(k.slice(7), v)
const grads = new Map([...optim].filter(([k]) => k.startsWith('grad.')).map(([k, v]) => [k.slice(5), v] as const))

const model = buildSpark(sparkTinyCnn, { decoderWidth: 96, training: true, inputSize: 96, batch: 2 })
if (E.isLeft(model)) throw new Error(formatError(model.left))
const graph = model.right.graph
const { params, report } = fromTorch(graph, state, prefixed)
const inputs = new Map([
  ['input', toNhwc(get(fwd, 'fwd.input'))],
  ['mask', toNhwc(get(fwd, 'fwd.active_mask'))],
])

/** max |a − b| / max |b|: the error relative to the tensor's scale. */
const relErr = (a: HostTensor, b: HostTensor): number => {
  expect(a.shape).toEqual(b.shape)
  let scale = 0
  let err = 0
  for (let i = 0; i < b.data.length; i++) {
    scale = Math.max(scale, Math.abs(b.data[i] ?? NaN))
    err = Math.max(err, Math.abs((a.data[i] ?? NaN) - (b.data[i] ?? NaN)))
  }
  return err / scale
}

const expected: ReadonlyArray<readonly [string, HostTensor]> = [
  ['loss', get(fwd, 'fwd.loss')],
  ['reconstruction', toNhwc(get(fwd, 'fwd.rec'))],
  ...[0, 1, 2, 3].map((k) => [`features.${k}`, toNhwc(get(fwd, `fwd.enc_feat.${k}`))] as const),
  ...[0, 1, 2, 3].map((i) => [`decoder_inputs.${i}`, toNhwc(get(fwd, `fwd.to_dec.${i}`))] as const),
]

describe('SparK ≡ official PyTorch SparK (spark-tiny fixture, train mode)', () => {
  it('every fixture parameter maps onto the graph (no missing, mismatched or unexpected keys but the unused buffers)', () => {
    expect(report.missing).toEqual([])
    expect(report.mismatched).toEqual([])
    expect(report.unexpected).toEqual([])
    expect(report.matched.length).toBe(state.size)
  })

  for (const name of ['reference', 'tfjs-wasm', 'tfjs-cpu'] as const) {
    it(`${name}: forward (features, decoder inputs, reconstruction, loss) and, where it differentiates, every gradient`, async () => {
      const b = await getBackend(name)
      if (E.isLeft(b)) return void console.log(`skipping ${name}: ${b.left}`)
      const backend: Backend = b.right
      const exe = backend.compile(graph, { inputShapes: { input: [2, 96, 96, 3], mask: [2, 3, 3, 1] }, params })
      if (E.isLeft(exe)) throw new Error(formatError(exe.left))
      try {
        const out = await exe.right.run(inputs)
        const errs = expected.map(([k, want]) => {
          const got = out.get(k)
          if (got === undefined) throw new Error(`no output ${k}`)
          return [k, relErr(k === 'loss' ? { shape: [1], data: got.data } : got, want)] as const
        })
        console.log(`${name} forward worst relative errors: ${errs.map(([k, e]) => `${k} ${e.toExponential(1)}`).join(', ')}`)
        for (const [k, e] of errs) expect(e, k).toBeLessThanOrEqual(1e-4)
        if (exe.right.vjp === undefined) return
        const { grads: ours } = await exe.right.vjp(inputs, new Map([['loss', { shape: [], data: Float32Array.of(1) }]]))
        const theirs = fromTorch(graph, grads, prefixed).params
        let worst = ['', 0] as [string, number]
        for (const [k, want] of theirs) {
          const got = ours.get(k)
          if (got === undefined) throw new Error(`no gradient for ${k}`)
          const e = relErr(got, want)
          if (e > worst[1]) worst = [k, e]
          expect(e, `gradient of ${k}`).toBeLessThanOrEqual(1e-3)
        }
        expect(theirs.size).toBeGreaterThan(90)
        console.log(`${name} worst gradient relative error: ${worst[1].toExponential(2)} (${worst[0]})`)
      } finally {
        exe.right.dispose()
      }
    })
  }
})
