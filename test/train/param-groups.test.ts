// SparK's decay / no_decay split against the lists the official code produced for the fixture model
// (test/fixtures/spark-tiny/param-groups.json, extracted from README.json), unit cases for each rule, and
// the per-iteration hyper of the groups.

import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { groupsAt, isNoDecay, sparkParamGroups } from '../../src/train/param-groups.js'
import { fcOpts, fixturePath } from './optim-helpers.js'

interface FixtureGroups {
  readonly decay: ReadonlyArray<string>
  readonly no_decay: ReadonlyArray<string>
  readonly state_dict: ReadonlyArray<readonly [string, ReadonlyArray<number>, boolean]>
}
const fx = JSON.parse(readFileSync(fixturePath('param-groups.json'), 'utf8')) as FixtureGroups

describe('fixture model', () => {
  const [decay, noDecay] = sparkParamGroups(fx.state_dict.map(([name, shape, trainable]) => ({ name, shape, trainable })))

  it('reproduces the official decay and no_decay lists (98 trainable tensors; BN buffers and unused buffers left out)', () => {
    expect(fx.state_dict.length).toBeGreaterThan(98)
    expect([...decay.names].sort()).toEqual([...fx.decay].sort())
    expect([...noDecay.names].sort()).toEqual([...fx.no_decay].sort())
    expect(decay.names.length).toBe(32)
    expect(noDecay.names.length).toBe(66)
    expect(noDecay.names).toContain('mask_tokens.0')
    expect(decay.names.some((n) => n.includes('running'))).toBe(false)
  })

  it('keeps the input order within each group and carries SparK scales', () => {
    const order = fx.state_dict.map(([n]) => n)
    const isSorted = (ns: ReadonlyArray<string>): boolean => ns.every((n, i) => i === 0 || order.indexOf(ns[i - 1] ?? '') < order.indexOf(n))
    expect(isSorted(decay.names) && isSorted(noDecay.names)).toBe(true)
    expect([decay.weightDecayScale, noDecay.weightDecayScale, decay.lrScale, noDecay.lrScale]).toEqual([1, 0, 1, 1])
  })

  it('groupsAt: lr for both groups, wd only for decay', () => {
    const [d, n] = groupsAt([decay, noDecay], 3e-3, 0.07)
    expect([d?.lr, d?.weightDecay, n?.lr, n?.weightDecay]).toEqual([3e-3, 0.07, 3e-3, 0])
    expect(d?.names).toBe(decay.names)
  })
})

describe('rules', () => {
  it.each([
    ['sparse_encoder.sp_cnn.conv1.weight', [16, 3, 7, 7], false],
    ['head.fc.weight', [10, 64], false],
    ['layer.bn.weight', [16], true], // 1-D
    ['proj.bias', [3], true],
    ['odd.bias', [3, 3], true], // suffix, whatever the rank
    ['biased_conv.weight', [4, 4, 3, 3], false], // "bias" elsewhere in the name is not the suffix
    ['mask_tokens.2', [1, 32, 1, 1], true], // substring mask_token, 4-D
    ['stages.1.blocks.0.gamma', [96], true],
    ['gamma_proj.weight', [8, 8], true], // substring match, as SparK
    ['cls_token', [1, 1, 64], true],
    ['pos_embed', [1, 49, 64], true],
  ] as const)('%s %j → no decay %s', (name, shape, nd) => {
    expect(isNoDecay(name, shape)).toBe(nd)
  })

  it('custom keys replace the defaults', () => {
    expect(isNoDecay('mask_tokens.0', [1, 8, 1, 1], [])).toBe(false)
    expect(isNoDecay('x.scale', [2, 2], ['scale'])).toBe(true)
  })

  it('every trainable tensor lands in exactly one group; non-trainable in none', () => {
    const entry = fc.record({
      name: fc.stringMatching(/^[a-z_.]{1,12}(\.bias|\.weight|gamma|mask_token)?$/),
      shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
      trainable: fc.boolean(),
    })
    fc.assert(fc.property(fc.uniqueArray(entry, { selector: (e) => e.name, maxLength: 20 }), (ps) => {
      const [d, n] = sparkParamGroups(ps)
      const all = [...d.names, ...n.names]
      const trainable = ps.filter((p) => p.trainable).map((p) => p.name)
      return all.length === trainable.length && trainable.every((t) => all.includes(t))
        && n.names.every((x) => { const p = ps.find((q) => q.name === x); return p !== undefined && isNoDecay(p.name, p.shape) })
        && d.names.every((x) => { const p = ps.find((q) => q.name === x); return p !== undefined && !isNoDecay(p.name, p.shape) })
    }), fcOpts(200))
  })
})
