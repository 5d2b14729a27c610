import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import { conv2d, relu } from '../../src/models/layers.js'
import { eliminateDeadCode } from '../../src/passes/eliminate-dead-code.js'
import { pipeline } from '../../src/passes/pass.js'
import type { Pass } from '../../src/passes/pass.js'

const build = () => {
  const b = new GraphBuilder()
  const x = b.input('input', [1, 8, 8, 3])
  const used = pipe(x, conv2d('a', { out: 4, kernel: 3 }), relu)
  pipe(x, conv2d('dead', { out: 4, kernel: 1 }))
  return b.build([['out', used]])
}

describe('passes', () => {
  it('eliminateDeadCode drops the unused conv and its params, keeps the input, and shares an unchanged graph', () => {
    const g = build()
    if (E.isLeft(g)) throw new Error('build failed')
    const r = pipeline(eliminateDeadCode).run(g.right)
    if (E.isLeft(r)) throw new Error('dce failed')
    const names = r.right.nodes.map((n) => n.name ?? n.op)
    expect(names).not.toContain('dead')
    expect(names).not.toContain('dead.weight')
    expect(names).toContain('input')
    expect(r.right.nodes.length).toBe(g.right.nodes.length - 3)
    const again = eliminateDeadCode.run(r.right)
    expect(E.isRight(again) && again.right).toBe(r.right)
  })

  it('pipeline reports which pass broke the graph', () => {
    const g = build()
    if (E.isLeft(g)) throw new Error('build failed')
    const breakIt: Pass = { name: 'breakIt', run: (h) => E.right({ ...h, nodes: h.nodes.slice(1) }) }
    const r = pipeline(eliminateDeadCode, breakIt).run(g.right)
    expect(E.isLeft(r) && r.left._tag === 'Invariant' && r.left.pass).toBe('breakIt')
  })
})
