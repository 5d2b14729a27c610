// LAMB (timm 0.5.4 as SparK uses it) on tfjs-cpu: hand-computed single- and two-step values for each part of
// the rule (Adam direction, GLOBAL gradient clip before the moments, trust ratio only with weight decay,
// zero-norm guard, bias correction, flags), then a fast-check comparison with the float64 loop
// re-derivation over random tensors, groups, flags and three steps.

import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { tf } from '../../src/backends/tfjs/tf.js'
import type { LambConfig } from '../../src/train/optimizer-lamb.js'
import { createLamb, sparkLamb } from '../../src/train/optimizer-lamb.js'
import type { Optimizer, StepGroup } from '../../src/train/optimizer.js'
import type { HostVals, Ref64State } from './optim-helpers.js'
import { disposeAll, fcOpts, hostTensors, hostVariables, readBack, refLambStep, useBackend, vec } from './optim-helpers.js'

beforeAll(async () => {
  const b = await useBackend('tfjs-cpu')
  if (E.isLeft(b)) throw new Error(b.left)
})

const lamb = (cfg: LambConfig): Optimizer => {
  const o = createLamb(cfg)
  if (E.isLeft(o)) throw new Error(o.left.message)
  return o.right
}

/** Runs `steps` LAMB steps (one grads map per step) and returns params and state on the host. */
const run = (cfg: LambConfig, p0: HostVals, gradSeq: ReadonlyArray<HostVals>, groups: ReadonlyArray<StepGroup>) => {
  const opt = lamb(cfg)
  const params = hostVariables(p0)
  for (const gh of gradSeq) {
    const g = hostTensors(gh)
    const r = opt.step(params, g, groups)
    disposeAll(g)
    if (E.isLeft(r)) throw new Error(r.left.message)
  }
  const out = { params: readBack(params), state: opt.exportState() }
  disposeAll(params)
  opt.dispose()
  return out
}

// float32 arithmetic on O(1) values: 1e-6 absolute covers a handful of roundings.
const expectVals = (got: ArrayLike<number> | undefined, want: ReadonlyArray<number>, tol = 1e-6): void => {
  expect(got).toBeDefined()
  const g = Array.from(got ?? [])
  expect(g.length).toBe(want.length)
  g.forEach((x, i) => expect(Math.abs(x - (want[i] ?? NaN)), `element ${i}: ${x} vs ${want[i]}`).toBeLessThanOrEqual(tol))
}

describe('hand-computed LAMB steps', () => {
  it('wd = 0: plain bias-corrected Adam direction, u = g/(|g| + 1e-6) at step 1, no trust ratio', () => {
    const r = run(sparkLamb(0.95), vec(['w', [1, 2]]), [vec(['w', [0.5, -0.25]])], [{ names: ['w'], lr: 0.1, weightDecay: 0 }])
    expectVals(r.params.get('w'), [1 - (0.1 * 0.5) / (0.5 + 1e-6), 2 + (0.1 * 0.25) / (0.25 + 1e-6)])
  })

  it('clips by the GLOBAL norm over all tensors before the moments (6, 8 → norm 10 → ×0.5)', () => {
    const r = run(sparkLamb(0.95), vec(['a', [1]], ['b', [1]]), [vec(['a', [6]], ['b', [8]])], [{ names: ['a', 'b'], lr: 0.01, weightDecay: 0 }])
    // Per-tensor clipping would give m = 0.1·5 for both; global clipping halves both.
    expectVals(r.state.params.get('a')?.m.data, [0.1 * 3])
    expectVals(r.state.params.get('b')?.m.data, [0.1 * 4])
    expectVals(r.state.params.get('a')?.v.data, [0.05 * 9])
    expectVals(r.state.params.get('b')?.v.data, [0.05 * 16])
  })

  it('does not clip at or below the threshold (3, 4 → norm exactly 5)', () => {
    const r = run(sparkLamb(0.95), vec(['a', [1]], ['b', [1]]), [vec(['a', [3]], ['b', [4]])], [{ names: ['a', 'b'], lr: 0.01, weightDecay: 0 }])
    expectVals(r.state.params.get('a')?.m.data, [0.3])
    expectVals(r.state.params.get('b')?.v.data, [0.05 * 16])
  })

  it('maxGradNorm sets the threshold (norm 10, max 2 → ×0.2)', () => {
    const r = run({ ...sparkLamb(0.95), maxGradNorm: 2 }, vec(['a', [1]], ['b', [1]]), [vec(['a', [6]], ['b', [8]])], [{ names: ['a', 'b'], lr: 0.01, weightDecay: 0 }])
    expectVals(r.state.params.get('a')?.m.data, [0.1 * 1.2])
  })

  it('wd ≠ 0: u += wd·p, then the trust ratio ||p||/||u|| scales the whole update', () => {
    const u = [1 / (1 + 1e-6) + 0.3, 1 / (1 + 1e-6) + 0.4]
    const tr = 5 / Math.hypot(u[0] ?? 0, u[1] ?? 0)
    const r = run(sparkLamb(0.95), vec(['w', [3, 4]], ['n', [3, 4]]), [vec(['w', [1, 1]], ['n', [1, 1]])], [
      { names: ['w'], lr: 0.1, weightDecay: 0.1 },
      { names: ['n'], lr: 0.1, weightDecay: 0 },
    ])
    expectVals(r.params.get('w'), [3 - 0.1 * tr * (u[0] ?? 0), 4 - 0.1 * tr * (u[1] ?? 0)])
    // Same tensor in the no-decay group: Adam step without trust ratio (tr would be 5/√2 there).
    expectVals(r.params.get('n'), [3 - 0.1 / (1 + 1e-6), 4 - 0.1 / (1 + 1e-6)])
  })

  it('alwaysAdapt applies the trust ratio without weight decay; trustClip caps it at 1', () => {
    const groups = [{ names: ['n'], lr: 0.1, weightDecay: 0 }]
    const a = run({ ...sparkLamb(0.95), alwaysAdapt: true }, vec(['n', [3, 4]]), [vec(['n', [1, 1]])], groups)
    expectVals(a.params.get('n'), [3 - 0.1 * (5 / Math.SQRT2), 4 - 0.1 * (5 / Math.SQRT2)], 1e-5)
    const c = run({ ...sparkLamb(0.95), alwaysAdapt: true, trustClip: true }, vec(['n', [3, 4]]), [vec(['n', [1, 1]])], groups)
    expectVals(c.params.get('n'), [3 - 0.1 / (1 + 1e-6), 4 - 0.1 / (1 + 1e-6)])
  })

  it('zero parameter norm: trust ratio 1 (p = −lr·u)', () => {
    const r = run(sparkLamb(0.95), vec(['w', [0, 0]]), [vec(['w', [1, -1]])], [{ names: ['w'], lr: 0.1, weightDecay: 0.1 }])
    expectVals(r.params.get('w'), [-0.1 / (1 + 1e-6), 0.1 / (1 + 1e-6)])
  })

  it('bias correction over two constant-gradient steps: m̂ = g, v̂ = g² → two unit-sign steps; off: 0.1/√0.05 at step 1', () => {
    const g = vec(['w', [0.5, -2]])
    const grp = [{ names: ['w'], lr: 0.01, weightDecay: 0 }]
    const two = run(sparkLamb(0.95), vec(['w', [1, 1]]), [g, g], grp)
    expectVals(two.params.get('w'), [1 - 0.02 * (0.5 / (0.5 + 1e-6)), 1 + 0.02 * (2 / (2 + 1e-6))])
    expect(two.state.params.get('w')?.step).toBe(2)
    expectVals(two.state.params.get('w')?.m.data, [0.19 * 0.5, 0.19 * -2])
    const off = run({ ...sparkLamb(0.95), biasCorrection: false }, vec(['w', [1, 1]]), [g], grp)
    expectVals(off.params.get('w'), [1 - (0.01 * 0.05) / (Math.sqrt(0.05) * 0.5 + 1e-6), 1 + (0.01 * 0.2) / (Math.sqrt(0.05) * 2 + 1e-6)])
  })

  it('gradAveraging off: m accumulates g itself (m = g at step 1)', () => {
    const r = run({ ...sparkLamb(0.95), gradAveraging: false }, vec(['w', [1]]), [vec(['w', [0.5]])], [{ names: ['w'], lr: 0.01, weightDecay: 0 }])
    expectVals(r.state.params.get('w')?.m.data, [0.5])
  })

  it('eps enters as sqrt(v̂) + eps (visible for gradients near eps)', () => {
    const r = run({ ...sparkLamb(0.95), eps: 1e-3 }, vec(['w', [1]]), [vec(['w', [1e-3]])], [{ names: ['w'], lr: 0.1, weightDecay: 0 }])
    expectVals(r.params.get('w'), [1 - 0.05])
  })

  it('parameters without a gradient are left alone and get no state', () => {
    const r = run(sparkLamb(0.95), vec(['w', [1]], ['frozen', [7]]), [vec(['w', [1]])], [{ names: ['w', 'frozen'], lr: 0.1, weightDecay: 0.1 }])
    expectVals(r.params.get('frozen'), [7])
    expect(r.state.params.has('frozen')).toBe(false)
  })
})

describe('LAMB against the float64 re-derivation (random tensors, groups, flags, 3 steps)', () => {
  // Values are 0 or of magnitude ≥ 1e-3: float32 squares of subnormal/tiny values underflow (norms become
  // 0, flipping the trust-ratio guard), a float32 artefact outside what the comparison is about.
  const val = (m: number): fc.Arbitrary<number> => fc.float({ min: -m, max: m, noNaN: true }).map((x) => (Math.abs(x) < 1e-3 ? 0 : x))
  const tensor = fc.integer({ min: 1, max: 12 }).chain((n) =>
    fc.record({ p: fc.array(val(2), { minLength: n, maxLength: n }), gs: fc.array(fc.array(val(1), { minLength: n, maxLength: n }), { minLength: 3, maxLength: 3 }), decay: fc.boolean() }))
  const problem = fc.record({
    tensors: fc.array(tensor, { minLength: 1, maxLength: 4 }),
    gradScale: fc.constantFrom(0.1, 1, 20), // 20: the global clip is usually active
    lr: fc.double({ min: 1e-3, max: 0.1, noNaN: true }),
    wd: fc.double({ min: 0.01, max: 0.3, noNaN: true }),
    b2: fc.double({ min: 0.5, max: 0.999, noNaN: true }),
    flags: fc.record({ biasCorrection: fc.boolean(), gradAveraging: fc.boolean(), trustClip: fc.boolean(), alwaysAdapt: fc.boolean() }),
  })

  it('matches per tensor: ||ours − ref|| ≤ 1e-4·||ref − p0|| + 1e-6·||p0|| + 1e-12', () => {
    fc.assert(fc.property(problem, (pb) => {
      const names = pb.tensors.map((_, i) => `t${i}`)
      const p0 = new Map(pb.tensors.map((t, i) => [names[i] ?? '', { shape: [t.p.length], data: Float32Array.from(t.p) }]))
      const gradSeq = [0, 1, 2].map((s) => new Map(pb.tensors.map((t, i) => [names[i] ?? '', { shape: [t.p.length], data: Float32Array.from(t.gs[s] ?? [], (x) => x * pb.gradScale) }])))
      const groups: StepGroup[] = [
        { names: names.filter((_, i) => pb.tensors[i]?.decay), lr: pb.lr, weightDecay: pb.wd },
        { names: names.filter((_, i) => !pb.tensors[i]?.decay), lr: pb.lr, weightDecay: 0 },
      ]
      const cfg: LambConfig = { betas: [0.9, pb.b2], ...pb.flags }
      const ours = run(cfg, p0, gradSeq, groups)
      const st = new Map<string, Ref64State>()
      const ref = new Map([...p0].map(([n, t]) => [n, Float64Array.from(t.data)]))
      for (const g of gradSeq) refLambStep({ b1: 0.9, b2: pb.b2, eps: 1e-6, maxGradNorm: 5, ...pb.flags }, st, ref, new Map([...g].map(([n, t]) => [n, t.data])), groups)
      // float32 rounding: ~1e-7 relative per operation over three steps of ~20 operations, plus the
      // float32 storage of p (≈ 6e-8·|p| per step); the bounds leave an order of magnitude of margin. The
      // absolute 1e-12 absorbs subnormal gradients, which float32 kernels may flush to zero.
      return names.every((n) => {
        const o = ours.params.get(n) ?? new Float32Array(), r = ref.get(n) ?? new Float64Array(), q = p0.get(n)?.data ?? new Float32Array()
        let d = 0, u = 0, p = 0
        for (let i = 0; i < r.length; i++) { d += ((o[i] ?? 0) - (r[i] ?? 0)) ** 2; u += ((r[i] ?? 0) - (q[i] ?? 0)) ** 2; p += (q[i] ?? 0) ** 2 }
        return Math.sqrt(d) <= 1e-4 * Math.sqrt(u) + 1e-6 * Math.sqrt(p) + 1e-12
      })
    }), fcOpts(60))
  })
})

describe('configuration', () => {
  it('refuses β outside [0, 1), negative eps, non-positive maxGradNorm', () => {
    for (const cfg of [{ betas: [0.9, 1] }, { betas: [-0.1, 0.9] }, { betas: [0.9, 0.95], eps: -1 }, { betas: [0.9, 0.95], maxGradNorm: 0 }] as const) {
      const r = createLamb(cfg)
      expect(E.isLeft(r) && r.left.kind).toBe('BadConfig')
    }
  })

  it('β2 has no default (SparK ada = 0 pitfall): the type requires both betas', () => {
    // @ts-expect-error betas is required
    const missing: LambConfig = {}
    // @ts-expect-error both betas are required
    const one: LambConfig = { betas: [0.9] }
    expect([missing, one].length).toBe(2)
    expect(sparkLamb(0.999).betas).toEqual([0.9, 0.999])
  })
})

describe('tensor hygiene', () => {
  it('no leaks: +2 state tensors per parameter at step 1, then constant; back to the start after dispose', () => {
    const opt = lamb(sparkLamb(0.95))
    const params = hostVariables(vec(['a', [1, 2, 3]], ['b', [4, 5]], ['c', [0.5]]))
    const grads = hostTensors(vec(['a', [0.1, -7, 2]], ['b', [3, 1]], ['c', [0.01]]))
    const groups = [{ names: ['a', 'b'], lr: 0.01, weightDecay: 0.05 }, { names: ['c'], lr: 0.01, weightDecay: 0 }]
    const before = tf.memory().numTensors
    expect(E.isRight(opt.step(params, grads, groups))).toBe(true)
    const after1 = tf.memory().numTensors
    expect(after1).toBe(before + 6)
    for (let i = 0; i < 4; i++) {
      expect(E.isRight(opt.step(params, grads, groups))).toBe(true)
      expect(tf.memory().numTensors).toBe(after1)
    }
    opt.dispose()
    expect(tf.memory().numTensors).toBe(before)
    disposeAll(params)
    disposeAll(grads)
  })
})
