import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { GraphBuilder } from '../../src/ir/builder.js'
import { batchNorm, conv2d, relu } from '../../src/models/layers.js'
import { formatError } from '../../src/ir/errors.js'
import { inferTypes } from '../../src/ir/infer.js'
import { nodeId } from '../../src/ir/graph.js'
import type { Graph } from '../../src/ir/graph.js'
import { printGraph } from '../../src/ir/print.js'
import { verify } from '../../src/ir/verify.js'

describe('builder', () => {
  it('builds conv-bn-relu with symbolic shapes, then infers concrete ones', () => {
    const b = new GraphBuilder()
    const x = b.input('input', [null, null, null, 3])
    const y = pipe(x, conv2d('conv1', { out: 8, kernel: 3, stride: 2, bias: false }), batchNorm('bn1'), relu)
    const g = b.build([['out', y]])
    expect(E.isRight(g)).toBe(true)
    if (E.isLeft(g)) return
    const t = inferTypes(g.right, { input: [2, 9, 9, 3] })
    expect(E.isRight(t) && t.right.get(y.id)?.shape).toEqual([2, 5, 5, 8])
    expect(printGraph(g.right)).toContain('conv2d(%0, %1)')
  })

  it('rejects a conv whose input channels disagree with its weight, naming node, op and both shapes', () => {
    const g: Graph = {
      nodes: [
        { id: nodeId(0), op: 'input', inputs: [], params: { name: 'input', shape: [1, 8, 8, 3] } },
        { id: nodeId(1), op: 'param', inputs: [], params: { name: 'conv1.weight', shape: [3, 3, 4, 8], trainable: true, init: { kind: 'zeros' } } },
        { id: nodeId(2), op: 'conv2d', name: 'conv1', inputs: [nodeId(0), nodeId(1)], params: { strides: [1, 1], padding: [[1, 1], [1, 1]], dilations: [1, 1], groups: 1 } },
      ],
      outputs: [{ name: 'out', node: nodeId(2) }],
    }
    const r = verify(g)
    expect(E.isLeft(r)).toBe(true)
    if (E.isRight(r)) return
    const msg = formatError(r.left)
    expect(msg).toContain("node %2 'conv1' (conv2d)")
    expect(msg).toContain('[1,8,8,3]')
    expect(msg).toContain('[3,3,4,8]')
  })
})
