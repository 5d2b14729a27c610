// Agreement with the official SparK code: one TheSameAsTimmLAMB step and one torch AdamW step from the
// spark-tiny fixture's parameters and gradients (lr 0.01, wd 0.04 on the decay group, betas (0.9, 0.95)),
// extracted into test/fixtures/spark-tiny/optim-oracle.safetensors by extract-optim.py. Groups come from
// sparkParamGroups. The error measure is relative to the UPDATE, ||p_ours − p_ref|| / ||p_ref − p_0||
// (≈ 100× stricter than relative to the parameter at lr 0.01). The gradients here have a global norm of
// 7.34 > 5, so the clip is active; skipping it would cost 1.2 % on the update (measured), far above 1e-3.

import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackendName } from '../../src/backends/backend.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { createAdamW } from '../../src/train/optimizer-adamw.js'
import { createLamb, sparkLamb } from '../../src/train/optimizer-lamb.js'
import type { Optimizer } from '../../src/train/optimizer.js'
import { groupsAt, sparkParamGroups } from '../../src/train/param-groups.js'
import type { Ref64State } from './optim-helpers.js'
import { diff, disposeAll, loadOracle, refLambStep, relL2, sparkRefLamb, toTensors, toVariables, useBackend } from './optim-helpers.js'

const oracle = loadOracle()
const specs = sparkParamGroups([...oracle.param].map(([name, t]) => ({ name, shape: t.shape })))
const groups = groupsAt(specs, 0.01, 0.04)
/** README.json: "global_grad_norm of this oracle = 7.33863" (6 significant digits). */
const readmeGradNorm = 7.33863

// The official step is float32 PyTorch and ours float32 tfjs: different rounding only, measured ≈ 3e-6
// update-relative (logged below); 1e-3 is the agreed bound and still 10× below the 1.2 % of a missing clip.
const tolUpdate = 1e-3

const backends: ReadonlyArray<BackendName> = ['tfjs-cpu', 'tfjs-wasm']

const runStep = (make: () => E.Either<unknown, Optimizer>): { readonly after: Map<string, Float32Array>; readonly opt: Optimizer } => {
  const opt = make()
  if (E.isLeft(opt)) throw new Error(JSON.stringify(opt.left))
  const params = toVariables(oracle.param)
  const grads = toTensors(oracle.grad)
  const r = opt.right.step(params, grads, groups)
  expect(E.isRight(r)).toBe(true)
  const after = new Map([...params].map(([n, v]) => [n, new Float32Array(v.dataSync())]))
  disposeAll(params)
  disposeAll(grads)
  return { after, opt: opt.right }
}

describe.each(backends)('official optimiser step on %s', (backend) => {
  let skip = ''
  beforeAll(async () => {
    const b = await useBackend(backend)
    if (E.isLeft(b)) skip = b.left
  })
  afterAll(() => {
    tf.disposeVariables()
  })

  it('fixture sanity: 98 parameters with grads, groups as SparK lists them, non-trivial updates', () => {
    expect(oracle.param.size).toBe(98)
    expect(oracle.grad.size).toBe(98)
    expect(oracle.lamb.size).toBe(97)
    expect(specs[0].names.length + specs[1].names.length).toBe(98)
    for (const [n, ref] of oracle.lamb) expect(relL2(ref.data, oracle.param.get(n)?.data ?? [])).toBeGreaterThan(1e-4)
  })

  it('LAMB reproduces every tensor (update-relative error ≤ 1e-3) and the clipped moments', () => {
    if (skip !== '') return void console.log(`skipping ${backend}: ${skip}`)
    const { after, opt } = runStep(() => createLamb(sparkLamb(0.95)))
    let worst = { name: '', err: 0, paramErr: 0 }
    for (const [n, ref] of oracle.lamb) {
      const p0 = oracle.param.get(n)?.data ?? new Float32Array()
      const ours = after.get(n) ?? new Float32Array()
      const err = relL2(ours, ref.data, diff(ref.data, p0))
      if (err > worst.err) worst = { name: n, err, paramErr: relL2(ours, ref.data) }
      expect(err, n).toBeLessThan(tolUpdate)
    }
    console.log(`[${backend}] LAMB worst update-relative error ${worst.err.toExponential(3)} (${worst.name}; parameter-relative ${worst.paramErr.toExponential(3)})`)

    // The tensor the extract leaves out (dense_decoder.dec.0.up_sample.weight) against the float64 derivation.
    const st = new Map<string, Ref64State>()
    const p64 = new Map([...oracle.param].map(([n, t]) => [n, Float64Array.from(t.data)]))
    refLambStep(sparkRefLamb(0.95), st, p64, new Map([...oracle.grad].map(([n, t]) => [n, t.data])), groups)
    const big = 'dense_decoder.dec.0.up_sample.weight'
    const bigErr = relL2(after.get(big) ?? [], p64.get(big) ?? [], diff(p64.get(big) ?? [], oracle.param.get(big)?.data ?? []))
    console.log(`[${backend}] LAMB ${big} vs float64: ${bigErr.toExponential(3)}`)
    expect(bigErr).toBeLessThan(tolUpdate)

    // Moments after one step: m = 0.1·c·g, v = 0.05·(c·g)² with c = 5 / global norm (README's number).
    // The README norm has 6 significant digits, so 1e-5 relative bounds both float32 and that rounding.
    const c = 5 / readmeGradNorm
    const state = opt.exportState()
    expect(state.params.size).toBe(98)
    for (const [n, s] of state.params) {
      const g = oracle.grad.get(n)?.data ?? new Float32Array()
      expect(s.step).toBe(1)
      expect(relL2(s.m.data, Float64Array.from(g, (x) => 0.1 * c * x)), n).toBeLessThan(1e-5)
      expect(relL2(s.v.data, Float64Array.from(g, (x) => 0.05 * (c * x) ** 2)), n).toBeLessThan(1e-5)
    }
    opt.dispose()
  })

  it('AdamW reproduces the extracted tensors (update-relative error ≤ 1e-3)', () => {
    if (skip !== '') return void console.log(`skipping ${backend}: ${skip}`)
    const { after, opt } = runStep(() => createAdamW({ betas: [0.9, 0.95] }))
    expect(oracle.adamw.size).toBeGreaterThan(50)
    let worst = { name: '', err: 0 }
    for (const [n, ref] of oracle.adamw) {
      const p0 = oracle.param.get(n)?.data ?? new Float32Array()
      const err = relL2(after.get(n) ?? [], ref.data, diff(ref.data, p0))
      if (err > worst.err) worst = { name: n, err }
      expect(err, n).toBeLessThan(tolUpdate)
    }
    console.log(`[${backend}] AdamW worst update-relative error ${worst.err.toExponential(3)} (${worst.name})`)
    opt.dispose()
  })
})
