// A stable text form of a graph, one line per node, used by snapshots, `sparkts inspect --format text`
// and error context. Stable means: no object identity, sorted param keys, shapes from inference.

import type { AnyNode, Graph } from './graph.js'
import type { Types } from './infer.js'
import { showShape } from './types.js'

const showValue = (v: unknown): string =>
  Array.isArray(v) ? `[${v.map(showValue).join(',')}]` : typeof v === 'object' && v !== null ? showParams(v as Record<string, unknown>) : JSON.stringify(v)

const showParams = (p: Record<string, unknown>): string => {
  const keys = Object.keys(p).sort()
  return keys.length === 0 ? '' : `{${keys.map((k) => `${k}=${showValue(p[k])}`).join(', ')}}`
}

/** One node as text: `%5 = conv2d(%0, %4) {…} : [1,112,112,64]  # conv1`. */
export const printNode = (n: AnyNode, types?: Types): string => {
  const t = types?.get(n.id)
  const params = showParams(n.params as unknown as Record<string, unknown>)
  return `%${n.id} = ${n.op}(${n.inputs.map((i) => `%${i}`).join(', ')})${params === '' ? '' : ` ${params}`}${t === undefined ? '' : ` : ${showShape(t.shape)}`}${n.name === undefined ? '' : `  # ${n.name}`}`
}

/** The whole graph as text, nodes then outputs. */
export const printGraph = (g: Graph, types?: Types): string =>
  [...g.nodes.map((n) => printNode(n, types)), ...g.outputs.map((o) => `output ${o.name} = %${o.node}`)].join('\n')
