import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as fc from 'fast-check'
import { pipe } from 'fp-ts/lib/function.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import type { Value } from '../../src/ir/builder.js'
import { countParams, graphCost, macRules } from '../../src/ir/cost.js'
import type { GraphCost } from '../../src/ir/cost.js'
import { formatError } from '../../src/ir/errors.js'
import { inferTypes } from '../../src/ir/infer.js'
import { opKinds } from '../../src/ir/ops.js'
import type { Shape } from '../../src/ir/types.js'
import { batchNorm, conv2d, convTranspose2d, globalAvgPool, linear, relu } from '../../src/models/layers.js'

const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED'])
const fcOpts = seed === undefined ? {} : { seed }

/** Builds `f(input)` and returns its cost for the given concrete input shape. */
const costOf = (inShape: Shape, f: (x: Value) => Value, given?: Shape): E.Either<string, GraphCost> => {
  const b = new GraphBuilder()
  const y = f(b.input('input', inShape))
  const g = b.build([['out', y]])
  if (E.isLeft(g)) return E.left(formatError(g.left))
  const t = inferTypes(g.right, given === undefined ? {} : { input: given })
  if (E.isLeft(t)) return E.left(formatError(t.left))
  return E.mapLeft(formatError)(graphCost(g.right, t.right))
}

const right = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left)
  return e.right
}

describe('cost: closed forms', () => {
  it('conv2d 3x3 pad 1 on 8x8x3 → 8 channels: Ho·Wo·cout·cin·kh·kw MACs, weight+bias params', () => {
    const c = right(costOf([1, 8, 8, 3], conv2d('c', { out: 8, kernel: 3 })))
    expect(c.macsPerImage).toBe(8 * 8 * 8 * 3 * 9)
    expect(c.trainable).toBe(3 * 3 * 3 * 8 + 8)
    expect(c.nonTrainable).toBe(0)
    expect(c.macsByOp).toEqual({ conv2d: 8 * 8 * 8 * 3 * 9 })
  })

  it('strided conv counts output positions only (8x8, k3 s2 p1 → 4x4)', () => {
    const c = right(costOf([1, 8, 8, 4], conv2d('c', { out: 6, kernel: 3, stride: 2, bias: false })))
    expect(c.macsPerImage).toBe(4 * 4 * 6 * 4 * 9)
    expect(c.trainable).toBe(3 * 3 * 4 * 6)
  })

  it('grouped and depthwise convs divide input channels by groups', () => {
    const dw = right(costOf([1, 5, 5, 4], conv2d('dw', { out: 4, kernel: 3, groups: 4, bias: false })))
    expect(dw.macsPerImage).toBe(5 * 5 * 4 * 1 * 9)
    const g2 = right(costOf([1, 5, 5, 4], conv2d('g', { out: 6, kernel: 1, groups: 2, bias: false })))
    expect(g2.macsPerImage).toBe(5 * 5 * 6 * 2)
  })

  it('conv2dTranspose counts every input position: H·W·cin·cout·kh·kw', () => {
    const c = right(costOf([1, 4, 4, 6], convTranspose2d('up', { out: 5, kernel: 2, stride: 2 })))
    expect(c.macsPerImage).toBe(4 * 4 * 6 * 5 * 2 * 2)
    expect(c.trainable).toBe(2 * 2 * 5 * 6 + 5)
  })

  it('linear counts positions·in·out on (B, C) and on NHWC', () => {
    expect(right(costOf([1, 10], linear('fc', 7))).macsPerImage).toBe(70)
    expect(right(costOf([1, 3, 3, 4], linear('pw', 5, { bias: false }))).macsPerImage).toBe(9 * 4 * 5)
  })

  it('BN running stats are non-trainable; norms, activations and pooling cost 0 MACs', () => {
    const c = right(costOf([1, 6, 6, 5], (x) => pipe(x, batchNorm('bn'), relu, globalAvgPool)))
    expect(c).toEqual({ trainable: 10, nonTrainable: 10, macsPerImage: 0, macsByOp: {} })
  })

  it('sums a small network and is per image (independent of batch)', () => {
    const net = (x: Value): Value =>
      pipe(x, conv2d('c1', { out: 4, kernel: 3, stride: 2, bias: false }), batchNorm('bn1'), relu, globalAvgPool, linear('fc', 3))
    const expected = 4 * 4 * 4 * 2 * 9 + 4 * 3
    expect(right(costOf([1, 8, 8, 2], net)).macsPerImage).toBe(expected)
    expect(right(costOf([7, 8, 8, 2], net)).macsPerImage).toBe(expected)
    expect(right(costOf([null, null, null, 2], net, [3, 8, 8, 2])).macsPerImage).toBe(expected)
  })

  it('unknown spatial sizes are an error naming the node and shapes', () => {
    const r = costOf([1, null, null, 3], conv2d('stem', { out: 8, kernel: 3 }))
    expect(E.isLeft(r)).toBe(true)
    if (E.isRight(r)) return
    expect(r.left).toContain("'stem' (conv2d)")
    expect(r.left).toContain('[1,?,?,8]')
  })

  it('has a rule for every op kind, and only conv/convT/linear are non-zero by construction', () => {
    expect(Object.keys(macRules).sort()).toEqual([...opKinds].sort())
  })

  it('countParams sums every param node by its trainable flag', () => {
    const b = new GraphBuilder()
    const x = b.input('input', [1, 2])
    b.param('a', [3, 4], { kind: 'zeros' })
    b.param('s', [5], { kind: 'ones' }, false)
    const g = b.build([['out', x]])
    expect(E.isRight(g) && countParams(g.right)).toEqual({ trainable: 12, nonTrainable: 5 })
  })
})

// Independent derivation of the conv MAC count: enumerate output positions one by one (instead of the
// floor formula of the shape rules) and count one MAC per (position, kernel tap, in-channel, out-channel).
const enumeratePositions = (size: number, k: number, s: number, pad: number, d: number): number => {
  let n = 0
  for (let o = 0; o * s + d * (k - 1) <= size + pad - 1; o++) n++
  return n
}

describe('cost: property', () => {
  it('conv2d MACs equal an enumeration of output positions × taps × channels', () => {
    const cfg = fc.record({
      h: fc.integer({ min: 1, max: 12 }),
      w: fc.integer({ min: 1, max: 12 }),
      g: fc.integer({ min: 1, max: 3 }),
      cinPerG: fc.integer({ min: 1, max: 3 }),
      coutPerG: fc.integer({ min: 1, max: 3 }),
      k: fc.integer({ min: 1, max: 4 }),
      s: fc.integer({ min: 1, max: 3 }),
      d: fc.integer({ min: 1, max: 2 }),
      p: fc.integer({ min: 0, max: 2 }),
      batch: fc.integer({ min: 1, max: 3 }),
    })
    fc.assert(
      fc.property(cfg, (c) => {
        const cin = c.g * c.cinPerG
        const cout = c.g * c.coutPerG
        const ho = enumeratePositions(c.h, c.k, c.s, 2 * c.p, c.d)
        const wo = enumeratePositions(c.w, c.k, c.s, 2 * c.p, c.d)
        const r = costOf([c.batch, c.h, c.w, cin], conv2d('c', { out: cout, kernel: c.k, stride: c.s, dilation: c.d, padding: c.p, groups: c.g }))
        if (ho === 0 || wo === 0) return E.isLeft(r) // the window does not fit: the shape rules reject it
        return E.isRight(r) && r.right.macsPerImage === ho * wo * cout * c.cinPerG * c.k * c.k && r.right.macsPerImage > 0
      }),
      { numRuns: 200, ...fcOpts },
    )
  })
})
