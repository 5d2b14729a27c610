// Differential conformance: every available backend against the float64 reference interpreter, for every
// op kind (cases from a table that is a mapped type over OpKind) and for random small CNNs.
// Forward: max|backend − ref| / max(1, max|ref|) ≤ 1e-4 — float32 rounding (6e-8) accumulated over the
// ≤ a few hundred terms of these tiny graphs stays well below it.
// Gradient: for each input and trainable parameter T, ⟨∂L/∂T, V⟩ from the backend's vjp against the central
// difference (L(T+hV) − L(T−hV)) / 2h of the float64 reference, L = Σ out·W, h = 1e-6 (float64 round-off
// ~1e-10, truncation ~1e-12, and a ReLU kink is crossed with probability ~1e-4 per case). Tolerance
// 1e-3 · Σ|∂L/∂T·V| + 2e-5 · max_T' Σ|∂L/∂T'·V'| + 1e-6: float32 backprop error relative to the summed
// terms, plus a share of the largest gradient of the case, because a gradient that is itself a heavy
// cancellation (a bias feeding a training-mode BatchNorm, which removes per-channel shifts) carries the
// float32 error of the large terms it cancels, not of its small result.
// Unavailable backends are skipped, and the reason is printed.

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import type { Backend, BackendName } from '../../src/backends/backend.js'
import { getBackend } from '../../src/backends/index.js'
import { evaluate } from '../../src/backends/reference/interpret.js'
import type { F64Tensor } from '../../src/backends/reference/interpret.js'
import { formatError } from '../../src/ir/errors.js'
import { graphParams } from '../../src/ir/graph.js'
import { inferTypes } from '../../src/ir/infer.js'
import { opKinds } from '../../src/ir/ops.js'
import type { HostTensor } from '../../src/ir/types.js'
import type { Case } from '../arbitraries.js'
import { opCases, randn, randomGraphCase } from '../arbitraries.js'

const deep = process.env['SPARKTS_DEEP'] === '1'
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31)
const runs = (n: number): { seed: number; numRuns: number } => ({ seed, numRuns: deep ? n * 10 : n })
console.log(`conformance: fast-check seed ${seed} (set FC_SEED to replay)${deep ? ', deep mode' : ''}`)

const names: ReadonlyArray<BackendName> = ['tfjs-cpu', 'tfjs-wasm', 'tfjs-webgl', 'tfjs-node-gpu']
const found: Array<readonly [BackendName, Backend]> = []
for (const n of names) {
  const b = await getBackend(n)
  if (E.isRight(b)) found.push([n, b.right])
  else console.log(`conformance: skipping backend ${n}: ${b.left}`)
}

const f64 = (t: HostTensor): F64Tensor => ({ shape: t.shape, data: Float64Array.from(t.data) })
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0)
  return s
}

/** L(inputs, params) = Σ out·W in float64 on the reference interpreter. */
const refLoss = (c: Case, w: HostTensor, inputs: Map<string, F64Tensor>, params: Map<string, F64Tensor>): number => {
  const types = inferTypes(c.graph, c.inputShapes)
  if (E.isLeft(types)) throw new Error(formatError(types.left))
  const out = evaluate(c.graph, types.right, inputs, params).get('out')
  if (out === undefined) throw new Error('reference produced no output')
  return dot(out.data, w.data)
}

const check = async (backend: Backend, c: Case): Promise<boolean> => {
  const exe = backend.compile(c.graph, { inputShapes: c.inputShapes, params: c.params })
  if (E.isLeft(exe)) throw new Error(`${c.label}: ${formatError(exe.left)}`)
  try {
    const types = inferTypes(c.graph, c.inputShapes)
    if (E.isLeft(types)) throw new Error(formatError(types.left))
    const inputs64 = new Map([...c.inputs].map(([k, v]) => [k, f64(v)]))
    const params64 = new Map([...c.params].map(([k, v]) => [k, f64(v)]))
    const ref = evaluate(c.graph, types.right, inputs64, params64).get('out')
    const got = (await exe.right.run(c.inputs)).get('out')
    expect(got?.shape, c.label).toEqual(ref?.shape)
    const scale = Math.max(1, ...Array.from(ref?.data ?? [], Math.abs))
    const fwdErr = Math.max(0, ...Array.from(got?.data ?? [], (v, i) => Math.abs(v - (ref?.data[i] ?? NaN)))) / scale
    expect(fwdErr, `${c.label}: forward relative error`).toBeLessThanOrEqual(1e-4)

    const vjp = exe.right.vjp
    if (vjp === undefined) return true
    const w = randn(ref?.shape ?? [], 7)
    const { grads } = await vjp(c.inputs, new Map([['out', w]]))
    const trainable = new Set(graphParams(c.graph).filter((p) => p.params.trainable).map((p) => p.params.name))
    const targets = [...[...c.inputs.keys()].map((k) => ['input', k] as const), ...[...trainable].map((k) => ['param', k] as const)]
    const checks = targets.map(([kind, name]) => {
      const g = grads.get(name)
      expect(g, `${c.label}: no gradient for ${kind} ${name}`).toBeDefined()
      const base = kind === 'input' ? inputs64 : params64
      const t = base.get(name)
      if (g === undefined || t === undefined) throw new Error(`${c.label}: missing ${kind} ${name}`)
      const v = randn(t.shape, name.length + 13)
      const h = 1e-6
      const shifted = (sgn: number): number => {
        const m = new Map(base)
        m.set(name, { shape: t.shape, data: t.data.map((x, i) => x + sgn * h * (v.data[i] ?? 0)) })
        return kind === 'input' ? refLoss(c, w, m, params64) : refLoss(c, w, inputs64, m)
      }
      const fd = (shifted(1) - shifted(-1)) / (2 * h)
      const analytic = dot(g.data, v.data)
      const mag = Array.from(g.data).reduce((sum, x, i) => sum + Math.abs(x * (v.data[i] ?? 0)), 0)
      return { kind, name, fd, analytic, mag }
    })
    const largest = Math.max(0, ...checks.map((k) => k.mag))
    for (const { kind, name, fd, analytic, mag } of checks)
      expect(Math.abs(analytic - fd), `${c.label}: d/d${kind} ${name}: vjp ${analytic} vs finite difference ${fd}`).toBeLessThanOrEqual(1e-3 * mag + 2e-5 * largest + 1e-6)
    return true
  } finally {
    exe.right.dispose()
  }
}

if (found.length === 0) it.skip('no tfjs backend available', () => undefined)
for (const [name, backend] of found) {
  describe(`${name} ≡ reference`, () => {
    for (const op of opKinds) {
      it(`${op}: forward and gradient`, async () => {
        await fc.assert(fc.asyncProperty(opCases[op], (c) => check(backend, c)), runs(6))
      })
    }
    it('random small CNNs: forward and gradient', async () => {
      await fc.assert(fc.asyncProperty(randomGraphCase, (c) => check(backend, c)), runs(6))
    })
  })
}
