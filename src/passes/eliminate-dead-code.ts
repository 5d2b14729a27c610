// Dead-code elimination: keep only nodes that some output depends on. Graph inputs are kept even when
// unused, so a graph's calling convention does not change under optimisation. Returns the same graph
// object when nothing is removed (structural sharing).

import * as E from 'fp-ts/lib/Either.js'
import type { Graph, NodeId } from '../ir/graph.js'
import type { Pass } from './pass.js'

/** Removes nodes no output depends on (inputs always stay). */
export const eliminateDeadCode: Pass = {
  name: 'eliminateDeadCode',
  run: (g: Graph) => {
    const live = new Set<NodeId>(g.outputs.map((o) => o.node))
    for (let i = g.nodes.length - 1; i >= 0; i--) {
      const n = g.nodes[i]
      if (n !== undefined && live.has(n.id)) for (const x of n.inputs) live.add(x)
    }
    const nodes = g.nodes.filter((n) => live.has(n.id) || n.op === 'input')
    return E.right(nodes.length === g.nodes.length ? g : { ...g, nodes })
  },
}
