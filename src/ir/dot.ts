// Graphviz DOT export. Parameters are folded into their consumer's label (a ResNet-50 has ~320 of them)
// so the picture shows the dataflow; shapes label the edges when types are given.

import type { Graph } from './graph.js'
import type { Types } from './infer.js'
import { showShape } from './types.js'

const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')

/** The graph in Graphviz DOT syntax. */
export const toDot = (g: Graph, types?: Types, title = 'sparkts'): string => {
  const byId = new Map(g.nodes.map((n) => [n.id, n]))
  const lines = [`digraph "${esc(title)}" {`, '  rankdir=TB;', '  node [shape=box, fontname="Helvetica", fontsize=10];']
  for (const n of g.nodes) {
    if (n.op === 'param') continue
    const params = n.inputs.flatMap((i) => {
      const p = byId.get(i)
      return p?.op === 'param' ? [p.params.name.split('.').pop() ?? ''] : []
    })
    const label = `${n.op}${n.name === undefined ? '' : `\\n${esc(n.name)}`}${n.op === 'input' ? `\\n${esc(n.params.name)}` : ''}${params.length ? `\\n(${params.join(', ')})` : ''}`
    lines.push(`  n${n.id} [label="${label}"${n.op === 'input' ? ', shape=ellipse' : ''}];`)
    for (const i of n.inputs) {
      if (byId.get(i)?.op === 'param') continue
      const t = types?.get(i)
      lines.push(`  n${i} -> n${n.id}${t === undefined ? '' : ` [label="${showShape(t.shape)}"]`};`)
    }
  }
  for (const o of g.outputs) lines.push(`  out_${o.node}_${esc(o.name).replace(/\W/g, '_')} [label="${esc(o.name)}", shape=ellipse];`, `  n${o.node} -> out_${o.node}_${esc(o.name).replace(/\W/g, '_')};`)
  lines.push('}')
  return lines.join('\n')
}
