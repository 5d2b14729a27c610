// AdamW (PyTorch semantics) on tfjs-cpu: hand-computed steps (decoupled decay applied to the old parameter,
// bias correction, eps 1e-8 default, torch clip_grad_norm_ option) and a fast-check comparison with the
// float64 loop re-derivation over random tensors, groups and three steps.

import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { tf } from '../../src/backends/tfjs/tf.js'
import type { AdamWConfig } from '../../src/train/optimizer-adamw.js'
import { createAdamW } from '../../src/train/optimizer-adamw.js'
import type { StepGroup } from '../../src/train/optimizer.js'
import type { HostVals, Ref64State } from './optim-helpers.js'
import { disposeAll, fcOpts, hostTensors, hostVariables, readBack, refAdamWStep, useBackend, vec } from './optim-helpers.js'

beforeAll(async () => {
  const b = await useBackend('tfjs-cpu')
  if (E.isLeft(b)) throw new Error(b.left)
})

const run = (cfg: AdamWConfig, p0: HostVals, gradSeq: ReadonlyArray<HostVals>, groups: ReadonlyArray<StepGroup>) => {
  const o = createAdamW(cfg)
  if (E.isLeft(o)) throw new Error(o.left.message)
  const params = hostVariables(p0)
  for (const gh of gradSeq) {
    const g = hostTensors(gh)
    const r = o.right.step(params, g, groups)
    disposeAll(g)
    if (E.isLeft(r)) throw new Error(r.left.message)
  }
  const out = { params: readBack(params), state: o.right.exportState() }
  disposeAll(params)
  o.right.dispose()
  return out
}

// float32 arithmetic on O(1) values: 1e-6 absolute covers a handful of roundings.
const expectVals = (got: ArrayLike<number> | undefined, want: ReadonlyArray<number>, tol = 1e-6): void => {
  const g = Array.from(got ?? [])
  expect(g.length).toBe(want.length)
  g.forEach((x, i) => expect(Math.abs(x - (want[i] ?? NaN)), `element ${i}: ${x} vs ${want[i]}`).toBeLessThanOrEqual(tol))
}

describe('hand-computed AdamW steps', () => {
  it('step 1: p·(1 − lr·wd) − lr·g/(|g| + 1e-8); no trust ratio, no clip by default', () => {
    const r = run({ betas: [0.9, 0.95] }, vec(['w', [3, 4]]), [vec(['w', [60, -80]])], [{ names: ['w'], lr: 0.1, weightDecay: 0.5 }])
    expectVals(r.params.get('w'), [3 * 0.95 - 0.1, 4 * 0.95 + 0.1])
    expectVals(r.state.params.get('w')?.m.data, [6, -8], 1e-5)
  })

  it('decay uses the old parameter and is decoupled from the gradient (zero gradient: pure shrink)', () => {
    const r = run({ betas: [0.9, 0.999] }, vec(['w', [2, -1]]), [vec(['w', [0, 0]])], [{ names: ['w'], lr: 0.01, weightDecay: 0.1 }])
    expectVals(r.params.get('w'), [2 * 0.999, -1 * 0.999])
  })

  it('two constant-gradient steps: bias correction gives unit-sign steps; shrink compounds', () => {
    const g = vec(['w', [0.5, -2]])
    const r = run({ betas: [0.9, 0.95] }, vec(['w', [1, 1]]), [g, g], [{ names: ['w'], lr: 0.01, weightDecay: 0.2 }])
    const s = 1 - 0.01 * 0.2
    expectVals(r.params.get('w'), [(1 * s - 0.01) * s - 0.01, (1 * s + 0.01) * s + 0.01])
    expect(r.state.params.get('w')?.step).toBe(2)
  })

  it('eps is the PyTorch default 1e-8 and configurable', () => {
    const grp = [{ names: ['w'], lr: 0.1, weightDecay: 0 }]
    const dflt = run({ betas: [0.9, 0.95] }, vec(['w', [1]]), [vec(['w', [1e-6]])], grp)
    expectVals(dflt.params.get('w'), [1 - 0.1 * (1e-6 / (1e-6 + 1e-8))])
    const big = run({ betas: [0.9, 0.95], eps: 1e-6 }, vec(['w', [1]]), [vec(['w', [1e-6]])], grp)
    expectVals(big.params.get('w'), [1 - 0.05])
  })

  it('clipGradNorm: torch clip_grad_norm_ (norm 10, max 5 → ×5/(10 + 1e-6)) before the moments', () => {
    const r = run({ betas: [0.9, 0.95], clipGradNorm: 5 }, vec(['a', [1]], ['b', [1]]), [vec(['a', [6]], ['b', [8]])], [{ names: ['a', 'b'], lr: 0.01, weightDecay: 0 }])
    const c = 5 / (10 + 1e-6)
    expectVals(r.state.params.get('a')?.m.data, [0.1 * 6 * c])
    expectVals(r.state.params.get('b')?.v.data, [0.05 * (8 * c) ** 2], 1e-5)
  })

  it('refuses bad configurations', () => {
    for (const cfg of [{ betas: [1, 0.9] }, { betas: [0.9, 0.95], eps: Number.NaN }, { betas: [0.9, 0.95], clipGradNorm: -1 }] as const) {
      const r = createAdamW(cfg)
      expect(E.isLeft(r) && r.left.kind).toBe('BadConfig')
    }
    // @ts-expect-error betas are required (no silent β2 default)
    const missing: AdamWConfig = { eps: 1e-8 }
    expect(missing.eps).toBe(1e-8)
  })
})

describe('AdamW against the float64 re-derivation (random tensors, groups, 3 steps)', () => {
  // Values are 0 or of magnitude ≥ 1e-3 (float32 underflow of tiny squares is not what is compared here).
  const val = (m: number): fc.Arbitrary<number> => fc.float({ min: -m, max: m, noNaN: true }).map((x) => (Math.abs(x) < 1e-3 ? 0 : x))
  const tensor = fc.integer({ min: 1, max: 12 }).chain((n) =>
    fc.record({ p: fc.array(val(2), { minLength: n, maxLength: n }), gs: fc.array(fc.array(val(1), { minLength: n, maxLength: n }), { minLength: 3, maxLength: 3 }), decay: fc.boolean() }))
  const problem = fc.record({
    tensors: fc.array(tensor, { minLength: 1, maxLength: 4 }),
    lr: fc.double({ min: 1e-3, max: 0.1, noNaN: true }),
    wd: fc.double({ min: 0.01, max: 0.3, noNaN: true }),
    b2: fc.double({ min: 0.5, max: 0.999, noNaN: true }),
    clip: fc.option(fc.double({ min: 0.1, max: 3, noNaN: true }), { nil: undefined }),
  })

  it('matches per tensor: ||ours − ref|| ≤ 1e-4·||ref − p0|| + 1e-6·||p0|| + 1e-12', () => {
    fc.assert(fc.property(problem, (pb) => {
      const names = pb.tensors.map((_, i) => `t${i}`)
      const p0 = new Map(pb.tensors.map((t, i) => [names[i] ?? '', { shape: [t.p.length], data: Float32Array.from(t.p) }]))
      const gradSeq = [0, 1, 2].map((s) => new Map(pb.tensors.map((t, i) => [names[i] ?? '', { shape: [t.p.length], data: Float32Array.from(t.gs[s] ?? []) }])))
      const groups: StepGroup[] = [
        { names: names.filter((_, i) => pb.tensors[i]?.decay), lr: pb.lr, weightDecay: pb.wd },
        { names: names.filter((_, i) => !pb.tensors[i]?.decay), lr: pb.lr, weightDecay: 0 },
      ]
      const cfg: AdamWConfig = pb.clip === undefined ? { betas: [0.9, pb.b2] } : { betas: [0.9, pb.b2], clipGradNorm: pb.clip }
      const ours = run(cfg, p0, gradSeq, groups)
      const st = new Map<string, Ref64State>()
      const ref = new Map([...p0].map(([n, t]) => [n, Float64Array.from(t.data)]))
      const o = pb.clip === undefined ? { b1: 0.9, b2: pb.b2, eps: 1e-8 } : { b1: 0.9, b2: pb.b2, eps: 1e-8, clip: pb.clip }
      for (const g of gradSeq) refAdamWStep(o, st, ref, new Map([...g].map(([n, t]) => [n, t.data])), groups)
      // Same budget as the LAMB property: float32 rounding over three steps, float32 storage of p.
      return names.every((n) => {
        const a = ours.params.get(n) ?? new Float32Array(), r = ref.get(n) ?? new Float64Array(), q = p0.get(n)?.data ?? new Float32Array()
        let d = 0, u = 0, p = 0
        for (let i = 0; i < r.length; i++) { d += ((a[i] ?? 0) - (r[i] ?? 0)) ** 2; u += ((r[i] ?? 0) - (q[i] ?? 0)) ** 2; p += (q[i] ?? 0) ** 2 }
        return Math.sqrt(d) <= 1e-4 * Math.sqrt(u) + 1e-6 * Math.sqrt(p) + 1e-12
      })
    }), fcOpts(60))
  })
})

describe('tensor hygiene', () => {
  it('no leaks across steps (with clipping), state freed by dispose', () => {
    const o = createAdamW({ betas: [0.9, 0.999], clipGradNorm: 1 })
    if (E.isLeft(o)) throw new Error(o.left.message)
    const params = hostVariables(vec(['a', [1, 2, 3]], ['b', [4, 5]]))
    const grads = hostTensors(vec(['a', [0.1, -7, 2]], ['b', [3, 1]]))
    const groups = [{ names: ['a'], lr: 0.01, weightDecay: 0.05 }, { names: ['b'], lr: 0.01, weightDecay: 0 }]
    const before = tf.memory().numTensors
    expect(E.isRight(o.right.step(params, grads, groups))).toBe(true)
    const after1 = tf.memory().numTensors
    expect(after1).toBe(before + 4)
    for (let i = 0; i < 4; i++) {
      expect(E.isRight(o.right.step(params, grads, groups))).toBe(true)
      expect(tf.memory().numTensors).toBe(after1)
    }
    o.right.dispose()
    expect(tf.memory().numTensors).toBe(before)
    disposeAll(params)
    disposeAll(grads)
  })
})
