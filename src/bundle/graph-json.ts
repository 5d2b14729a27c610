// The IR graph as JSON (a bundle's graph.json): plain data with a format tag and version, written
// canonically (object keys sorted, one node per line) so that the same graph always gives the same bytes.
// Reading does not trust the file: every node's params are checked against a validator table keyed by op
// kind (a mapped type over OpKind, so a new op fails to compile until it can be read back), then the graph
// is verified (ids, topological order, arity, names, shape rules). Browser-safe: no Node APIs.

import * as E from 'fp-ts/lib/Either.js'
import type { AnyNode, Graph, GraphOutput } from '../ir/graph.js'
import { nodeId } from '../ir/graph.js'
import type { OpKind } from '../ir/ops.js'
import { arity } from '../ir/ops.js'
import { formatError } from '../ir/errors.js'
import { verify } from '../ir/verify.js'

/** Format tag and version of graph.json. */
export const GRAPH_FORMAT = 'sparkts-graph'
export const GRAPH_VERSION = 1

type Check = (v: unknown) => boolean
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const num: Check = (v) => typeof v === 'number' && Number.isFinite(v)
const int: Check = (v) => Number.isSafeInteger(v)
const bool: Check = (v) => typeof v === 'boolean'
const str: Check = (v) => typeof v === 'string'
const arr = (c: Check, len?: number): Check => (v) => Array.isArray(v) && (len === undefined || v.length === len) && v.every(c)
const pair = arr(int, 2)
const padding = arr(pair, 2)
const dim: Check = (v) => v === null || int(v)
const fields = (spec: Readonly<Record<string, Check>>): Check => (v) =>
  isObj(v) && Object.keys(v).every((k) => k in spec) && Object.entries(spec).every(([k, c]) => c(v[k]))
const init: Check = (v) => {
  if (!isObj(v)) return false
  switch (v['kind']) {
    case 'zeros':
    case 'ones':
      return fields({ kind: str })(v)
    case 'constant':
      return fields({ kind: str, value: num })(v)
    case 'normal':
      return fields({ kind: str, std: num })(v)
    case 'truncNormal':
      return fields({ kind: str, std: num, a: num, b: num })(v)
    case 'uniform':
      return fields({ kind: str, low: num, high: num })(v)
    default:
      return false
  }
}
const none = fields({})
const window = fields({ window: pair, strides: pair, padding })

/** Params validator of every op kind. */
const paramChecks: { readonly [K in OpKind]: Check } = {
  input: fields({ name: str, shape: arr(dim) }),
  param: fields({ name: str, shape: arr(int), trainable: bool, init }),
  conv2d: fields({ strides: pair, padding, dilations: pair, groups: int }),
  conv2dTranspose: fields({ strides: pair, padding: pair, outputPadding: pair }),
  batchNorm: fields({ eps: num, momentum: num, training: bool }),
  layerNorm: fields({ eps: num }),
  groupNorm: fields({ groups: int, eps: num }),
  grn: fields({ eps: num }),
  linear: none,
  relu: none,
  relu6: none,
  gelu: none,
  silu: none,
  sigmoid: none,
  add: none,
  mul: none,
  maxPool: window,
  avgPool: fields({ window: pair, strides: pair, padding, countIncludePad: bool }),
  globalAvgPool: none,
  concat: fields({ axis: int }),
  reshape: fields({ shape: arr(int) }),
  transpose: fields({ perm: arr(int) }),
  dropPath: fields({ rate: num, training: bool }),
  maskLike: none,
  maskedBatchNorm: fields({ eps: num, momentum: num, training: bool }),
  maskedGroupNorm: fields({ groups: int, eps: num }),
  maskedGlobalAvgPool: none,
  maskFill: none,
  maskedPatchLoss: fields({ eps: num }),
}

const isOpKind = (v: unknown): v is OpKind => typeof v === 'string' && Object.hasOwn(arity, v)

/** What is wrong with a raw node (undefined when it is a well-formed node). */
const nodeProblem = (n: unknown, i: number): string | undefined => {
  if (!isObj(n) || !int(n['id']) || !isOpKind(n['op']) || !arr(int)(n['inputs']) || !(n['name'] === undefined || str(n['name'])))
    return `node #${i} is malformed (needs integer id, known op, integer inputs, optional string name)`
  const op = n['op']
  if (!paramChecks[op](n['params'])) return `node %${String(n['id'])} (${op}) has malformed params ${JSON.stringify(n['params'])}`
  const extra = Object.keys(n).find((k) => !['id', 'op', 'inputs', 'params', 'name'].includes(k))
  return extra === undefined ? undefined : `node %${String(n['id'])} has an unknown field '${extra}'`
}

/** Node guard: its params were checked against the params table of its op. */
const isNode = (n: unknown): n is AnyNode => nodeProblem(n, 0) === undefined

const isOutput = (o: unknown): o is { readonly name: string; readonly node: number } => fields({ name: str, node: int })(o)

/** JSON text with object keys sorted (deterministic). */
export const canonicalJson = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (isObj(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x))

/** Serialises a graph: canonical JSON, one node per line, trailing newline. */
export const graphToJson = (g: Graph): string =>
  `{"format":${JSON.stringify(GRAPH_FORMAT)},"version":${GRAPH_VERSION},\n"outputs":${canonicalJson(g.outputs)},\n"nodes":[\n${g.nodes.map(canonicalJson).join(',\n')}\n]}\n`

/** Parses and validates graph JSON; the graph is verified before it is returned. */
export const graphFromJson = (text: string): E.Either<string, Graph> => {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    return E.left(`graph.json is not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (!isObj(raw) || raw['format'] !== GRAPH_FORMAT) return E.left(`graph.json: not a ${GRAPH_FORMAT} file`)
  if (raw['version'] !== GRAPH_VERSION) return E.left(`graph.json: format version ${String(raw['version'])} is not supported (this sparkts reads version ${GRAPH_VERSION})`)
  const nodesRaw = raw['nodes']
  const outsRaw = raw['outputs']
  if (!Array.isArray(nodesRaw) || !Array.isArray(outsRaw)) return E.left('graph.json: `nodes` and `outputs` must be arrays')
  const nodes: AnyNode[] = []
  for (const [i, n] of nodesRaw.entries()) {
    const problem = nodeProblem(n, i)
    if (problem !== undefined) return E.left(`graph.json: ${problem}`)
    if (isNode(n)) nodes.push(n)
  }
  const outputs: GraphOutput[] = []
  for (const o of outsRaw) {
    if (!isOutput(o)) return E.left(`graph.json: malformed output ${JSON.stringify(o)}`)
    outputs.push({ name: o.name, node: nodeId(o.node) })
  }
  const g: Graph = { nodes, outputs }
  const v = verify(g)
  return E.isLeft(v) ? E.left(`graph.json: ${formatError(v.left)}`) : E.right(g)
}
