// Behaviour both optimisers share (src/train/optimizer.ts): refused steps are data naming the parameter and
// change nothing; state round-trips through host tensors so that a resumed run continues bit-identically;
// imported state is validated; the flat named-tensor form survives a safetensors file; no tensor leaks on
// either tfjs backend.

import * as E from 'fp-ts/lib/Either.js'
import { afterAll, describe, expect, it } from 'vitest'
import type { BackendName } from '../../src/backends/backend.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { createAdamW } from '../../src/train/optimizer-adamw.js'
import { createLamb, sparkLamb } from '../../src/train/optimizer-lamb.js'
import { flattenOptimizerState, optimizerKindKey, unflattenOptimizerState } from '../../src/train/optimizer-state.js'
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js'
import { toFloat32 } from '../../src/checkpoint/types.js'
import type { Optimizer, OptimizerState, StepGroup } from '../../src/train/optimizer.js'
import { disposeAll, hostTensors, hostVariables, readBack, useBackend, vec } from './optim-helpers.js'

const makers: ReadonlyArray<readonly [OptimizerState['kind'], () => Optimizer]> = [
  ['lamb', () => unwrap(createLamb(sparkLamb(0.95)))],
  ['adamw', () => unwrap(createAdamW({ betas: [0.9, 0.999] }))],
]
function unwrap<A>(e: E.Either<{ readonly message: string }, A>): A {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

const p0 = vec(['enc.weight', [0.5, -1, 2, 0.25]], ['enc.bias', [0.1, -0.2]])
const gradsAt = (k: number) => vec(['enc.weight', [0.3 * k, -2, 1 / k, 4]], ['enc.bias', [k, -0.5 * k]])
const groups: ReadonlyArray<StepGroup> = [{ names: ['enc.weight'], lr: 0.05, weightDecay: 0.1 }, { names: ['enc.bias'], lr: 0.05, weightDecay: 0 }]

const stepWith = (opt: Optimizer, params: Map<string, tf.Variable>, k: number): void => {
  const g = hostTensors(gradsAt(k))
  const r = opt.step(params, g, groups)
  disposeAll(g)
  if (E.isLeft(r)) throw new Error(r.left.message)
}

describe.each(makers)('%s on tfjs-cpu', (kind, make) => {
  it('refused steps: Left naming the parameter, nothing changed, no state created', async () => {
    expect(E.isRight(await useBackend('tfjs-cpu'))).toBe(true)
    const opt = make()
    const params = hostVariables(p0)
    const g = hostTensors(gradsAt(1))
    const bad = (grads: Map<string, tf.Tensor>, grps: ReadonlyArray<StepGroup>) => {
      const r = opt.step(params, grads, grps)
      return E.isLeft(r) ? r.left : undefined
    }
    const extra = hostTensors(vec(['ghost', [1]]))
    expect(bad(new Map([...g, ...extra]), groups)).toMatchObject({ kind: 'UnknownParam', param: 'ghost' })
    expect(bad(g, groups.slice(0, 1))).toMatchObject({ kind: 'Ungrouped', param: 'enc.bias' })
    expect(bad(g, [...groups, { names: ['enc.bias'], lr: 1, weightDecay: 0 }])).toMatchObject({ kind: 'DuplicateGroup', param: 'enc.bias' })
    expect(bad(g, [{ ...groups[0]!, lr: -1 }, groups[1]!])?.kind).toBe('BadHyper')
    expect(bad(g, [groups[0]!, { ...groups[1]!, weightDecay: Number.POSITIVE_INFINITY }])?.kind).toBe('BadHyper')
    const wrongShape = hostTensors(new Map([['enc.bias', { shape: [1, 2], data: [1, 2] }]]))
    expect(bad(new Map([...g, ...wrongShape]), groups)).toMatchObject({ kind: 'ShapeMismatch', param: 'enc.bias' })
    expect(readBack(params).get('enc.weight')).toEqual(Float32Array.from([0.5, -1, 2, 0.25]))
    expect(opt.exportState().params.size).toBe(0)
    // and a valid step does move the parameters (the checks above are not vacuous)
    expect(E.isRight(opt.step(params, g, groups))).toBe(true)
    expect(readBack(params).get('enc.weight')).not.toEqual(Float32Array.from([0.5, -1, 2, 0.25]))
    for (const m of [params, g, extra, wrongShape]) disposeAll(m)
    opt.dispose()
  })

  it('export → import resumes bit-identically; the export is a host copy', () => {
    const a = make()
    const pa = hostVariables(p0)
    stepWith(a, pa, 1)
    stepWith(a, pa, 2)
    const saved = a.exportState()
    expect(saved.kind).toBe(kind)
    expect([...saved.params.values()].map((s) => s.step)).toEqual([2, 2])
    const savedParams = readBack(pa)
    stepWith(a, pa, 3)
    // mutating a live optimiser after export does not change the exported copy
    expect(a.exportState().params.get('enc.bias')?.step).toBe(3)
    expect(saved.params.get('enc.bias')?.step).toBe(2)

    const b = make()
    expect(E.isRight(b.importState(saved))).toBe(true)
    const pb = hostVariables(new Map([...savedParams].map(([n, d]) => [n, { shape: [d.length], data: d }])))
    stepWith(b, pb, 3)
    const ra = readBack(pa), rb = readBack(pb)
    for (const n of ['enc.weight', 'enc.bias']) expect(rb.get(n)).toEqual(ra.get(n))
    expect(b.exportState().params.get('enc.weight')?.m.data).toEqual(a.exportState().params.get('enc.weight')?.m.data)
    // a fresh optimiser (state lost) would NOT reproduce the resumed step
    const c = make()
    const pc = hostVariables(new Map([...savedParams].map(([n, d]) => [n, { shape: [d.length], data: d }])))
    stepWith(c, pc, 3)
    expect(readBack(pc).get('enc.weight')).not.toEqual(ra.get('enc.weight'))
    for (const m of [pa, pb, pc]) disposeAll(m)
    for (const o of [a, b, c]) o.dispose()
  })

  it('import validation: kind, step, data length, m/v shapes; state/param shape mismatch at the next step', () => {
    const opt = make()
    const h = (shape: ReadonlyArray<number>, n = shape.reduce((x, y) => x * y, 1)) => ({ shape, data: new Float32Array(n) })
    const st = (kind2: OptimizerState['kind'], step: number, m = h([2]), v = h([2])): OptimizerState => ({ kind: kind2, params: new Map([['enc.bias', { step, m, v }]]) })
    const other: OptimizerState['kind'] = kind === 'lamb' ? 'adamw' : 'lamb'
    const kindOf = (r: E.Either<{ readonly kind: string }, void>) => (E.isLeft(r) ? r.left.kind : 'ok')
    expect(kindOf(opt.importState(st(other, 1)))).toBe('BadState')
    expect(kindOf(opt.importState(st(kind, -1)))).toBe('BadState')
    expect(kindOf(opt.importState(st(kind, 1.5)))).toBe('BadState')
    expect(kindOf(opt.importState(st(kind, 1, h([2], 3))))).toBe('BadState')
    expect(kindOf(opt.importState(st(kind, 1, h([2]), h([1, 2]))))).toBe('BadState')
    expect(kindOf(opt.importState(st(kind, 1, h([3]), h([3]))))).toBe('ok')
    const params = hostVariables(p0)
    const g = hostTensors(gradsAt(1))
    const r = opt.step(params, g, groups)
    expect(E.isLeft(r) && r.left).toMatchObject({ kind: 'ShapeMismatch', param: 'enc.bias' })
    disposeAll(params)
    disposeAll(g)
    opt.dispose()
  })
})

const backends: ReadonlyArray<BackendName> = ['tfjs-cpu', 'tfjs-wasm']
describe.each(backends)('no tensor leaks on %s', (backend) => {
  afterAll(() => void tf.disposeVariables())
  it.each(makers)('%s: numTensors constant across steps, restored by dispose', async (_k, make) => {
    const b = await useBackend(backend)
    if (E.isLeft(b)) return void console.log(`skipping ${backend}: ${b.left}`)
    const opt = make()
    const params = hostVariables(p0)
    const before = tf.memory().numTensors
    stepWith(opt, params, 1)
    const after1 = tf.memory().numTensors
    expect(after1).toBe(before + 4)
    for (let k = 2; k < 6; k++) {
      stepWith(opt, params, k)
      expect(tf.memory().numTensors).toBe(after1)
    }
    opt.exportState()
    expect(tf.memory().numTensors).toBe(after1)
    opt.dispose()
    expect(tf.memory().numTensors).toBe(before)
    disposeAll(params)
  })
})

describe('flat form for checkpoint files', () => {
  it('round-trips a real LAMB state through the repo safetensors writer/reader; the optimiser resumes from it', async () => {
    expect(E.isRight(await useBackend('tfjs-cpu'))).toBe(true)
    const a = unwrap(createLamb(sparkLamb(0.95)))
    const pa = hostVariables(p0)
    stepWith(a, pa, 1)
    stepWith(a, pa, 2)
    const flat = flattenOptimizerState(a.exportState())
    expect([...flat.tensors.keys()].sort()).toEqual(['enc.bias.exp_avg', 'enc.bias.exp_avg_sq', 'enc.bias.step', 'enc.weight.exp_avg', 'enc.weight.exp_avg_sq', 'enc.weight.step'])
    const bytes = writeSafetensors(new Map([...flat.tensors].map(([n, t]) => [n, { dtype: 'F32', shape: t.shape, data: t.data }])), flat.metadata)
    if (E.isLeft(bytes)) throw new Error(JSON.stringify(bytes.left))
    const read = readSafetensors(bytes.right)
    if (E.isLeft(read)) throw new Error(JSON.stringify(read.left))
    const back = unflattenOptimizerState({ tensors: new Map([...read.right.tensors].map(([n, t]) => [n, { shape: t.shape, data: toFloat32(t) }])), metadata: read.right.metadata })
    if (E.isLeft(back)) throw new Error(back.left.message)
    expect(back.right.kind).toBe('lamb')
    expect(back.right.params.get('enc.weight')?.step).toBe(2)
    expect(back.right.params.get('enc.weight')?.v.data).toEqual(a.exportState().params.get('enc.weight')?.v.data)
    const b = unwrap(createLamb(sparkLamb(0.95)))
    expect(E.isRight(b.importState(back.right))).toBe(true)
    const pb = hostVariables(new Map([...readBack(pa)].map(([n, d]) => [n, { shape: [d.length], data: d }])))
    stepWith(a, pa, 3)
    stepWith(b, pb, 3)
    expect(readBack(pb).get('enc.weight')).toEqual(readBack(pa).get('enc.weight'))
    for (const m of [pa, pb]) disposeAll(m)
    a.dispose()
    b.dispose()
  })

  it('rejects unknown kinds, stray tensors and incomplete entries', () => {
    const t = { shape: [2], data: new Float32Array(2) }
    const one = { shape: [1], data: Float32Array.of(1) }
    const kindOf = (r: E.Either<{ readonly message: string }, unknown>) => (E.isLeft(r) ? r.left.message : 'ok')
    expect(kindOf(unflattenOptimizerState({ tensors: new Map(), metadata: {} }))).toContain(optimizerKindKey)
    expect(kindOf(unflattenOptimizerState({ tensors: new Map([['w.momentum', t]]), metadata: { [optimizerKindKey]: 'adamw' } }))).toContain('w.momentum')
    expect(kindOf(unflattenOptimizerState({ tensors: new Map([['w.exp_avg', t], ['w.step', one]]), metadata: { [optimizerKindKey]: 'adamw' } }))).toContain("'w'")
    expect(kindOf(unflattenOptimizerState({ tensors: new Map([['w.exp_avg', t], ['w.exp_avg_sq', t], ['w.step', one]]), metadata: { [optimizerKindKey]: 'adamw' } }))).toBe('ok')
  })
})
