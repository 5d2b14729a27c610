// The dense model bundle: three files — graph.json (the folded inference graph, graph-json.ts),
// weights.safetensors (every parameter in sparkts layout, F32, written deterministically: sorted names,
// fixed metadata) and manifest.json (provenance: source file and its SHA-256, arch, feature strides,
// conversion report, sparkts version, creation time, and the SHA-256 of the other two files). Encoding and
// decoding work on bytes only (WebCrypto for hashing), so a browser can load a bundle from fetched bytes;
// Node file access is the thin wrapper in fs.ts. Decoding checks the hashes, the graph (verified) and that
// the weights are exactly the graph's parameters with their declared shapes.

import * as E from 'fp-ts/lib/Either.js'
import { formatCheckpointError } from '../checkpoint/errors.js'
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.js'
import type { TensorData } from '../checkpoint/types.js'
import type { FullReport } from '../convert/convert.js'
import type { Graph } from '../ir/graph.js'
import { graphParams } from '../ir/graph.js'
import type { HostTensor } from '../ir/types.js'
import { showShape } from '../ir/types.js'
import { canonicalJson, graphFromJson, graphToJson } from './graph-json.js'

/** File names inside a bundle directory. */
export const BUNDLE_FILES = { graph: 'graph.json', weights: 'weights.safetensors', manifest: 'manifest.json' } as const

/** Manifest format tag and version. */
export const MANIFEST_FORMAT = 'sparkts-bundle'
export const MANIFEST_VERSION = 1

/** Provenance and facts of a bundle (manifest.json). */
export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT
  readonly version: number
  readonly sparkts: string
  /** ISO-8601 creation time (the only non-deterministic field of a bundle). */
  readonly created: string
  readonly source: { readonly file: string; readonly sha256: string; readonly format: string; readonly wrapper: string | null }
  readonly arch: {
    /** What was given to --arch (zoo name or module path). */
    readonly spec: string
    readonly name: string
    readonly family: string
    readonly inChannels: number
    readonly downsampleRatio: number
    readonly featureChannels: ReadonlyArray<number>
    /** Stride of each feature map w.r.t. the input, largest map first. */
    readonly featureStrides: ReadonlyArray<number>
    readonly numClasses: number
  }
  /** Graph input name; `sparkts run` takes it NCHW (or NHWC), the graph itself is NHWC. */
  readonly input: string
  readonly outputs: ReadonlyArray<string>
  readonly conversion: FullReport
  /** SHA-256 of graph.json and weights.safetensors. */
  readonly files: { readonly graph: string; readonly weights: string }
}

/** A bundle's three files as bytes. */
export interface BundleBytes {
  readonly graph: Uint8Array
  readonly weights: Uint8Array
  readonly manifest: Uint8Array
}

/** A loaded bundle. */
export interface Bundle {
  readonly graph: Graph
  readonly params: ReadonlyMap<string, HostTensor>
  readonly manifest: Manifest
}

/** Lower-case hex SHA-256 (WebCrypto: Node ≥ 20 and browsers). */
export const sha256Hex = async (bytes: Uint8Array): Promise<string> => {
  // Copied into a fresh ArrayBuffer-backed array: digest does not accept SharedArrayBuffer views.
  const d = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', new Uint8Array(bytes)))
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('')
}

const WEIGHTS_METADATA = { format: 'sparkts', layout: 'sparkts: conv HWIO, conv-transpose (kh,kw,out,in), linear (in,out)' }

/** Encodes a bundle; `manifest` without its `files` hashes (computed here). */
export const encodeBundle = async (graph: Graph, params: ReadonlyMap<string, HostTensor>, manifest: Omit<Manifest, 'files'>): Promise<E.Either<string, BundleBytes>> => {
  const tensors = new Map<string, TensorData>([...params].map(([k, v]) => [k, { dtype: 'F32', shape: v.shape, data: v.data }] as const))
  const w = writeSafetensors(tensors, WEIGHTS_METADATA)
  if (E.isLeft(w)) return E.left(`writing weights: ${formatCheckpointError(w.left)}`)
  const g = new TextEncoder().encode(graphToJson(graph))
  const full: Manifest = { ...manifest, files: { graph: await sha256Hex(g), weights: await sha256Hex(w.right) } }
  return E.right({ graph: g, weights: w.right, manifest: new TextEncoder().encode(`${JSON.stringify(JSON.parse(canonicalJson(full)), null, 1)}\n`) })
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const manifestProblem = (m: unknown): string | undefined => {
  if (!isObj(m) || m['format'] !== MANIFEST_FORMAT) return `not a ${MANIFEST_FORMAT} manifest`
  if (m['version'] !== MANIFEST_VERSION) return `manifest version ${String(m['version'])} is not supported (this sparkts reads version ${MANIFEST_VERSION})`
  const files = m['files']
  const arch = m['arch']
  if (!isObj(files) || typeof files['graph'] !== 'string' || typeof files['weights'] !== 'string') return 'manifest has no file hashes'
  if (!isObj(arch) || typeof arch['inChannels'] !== 'number' || typeof arch['downsampleRatio'] !== 'number' || typeof arch['name'] !== 'string') return 'manifest has no arch facts'
  return typeof m['input'] === 'string' ? undefined : 'manifest names no input'
}

// Checked field by field in manifestProblem (the report and provenance strings are informational).
const isManifest = (m: unknown): m is Manifest => manifestProblem(m) === undefined

/** Decodes and checks a bundle from its bytes. */
export const decodeBundle = async (b: BundleBytes): Promise<E.Either<string, Bundle>> => {
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder().decode(b.manifest))
  } catch (e) {
    return E.left(`manifest.json is not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  const problem = manifestProblem(raw)
  if (problem !== undefined || !isManifest(raw)) return E.left(`manifest.json: ${problem ?? 'malformed'}`)
  const m = raw
  if ((await sha256Hex(b.graph)) !== m.files.graph) return E.left('graph.json does not match the SHA-256 in manifest.json (modified or corrupted)')
  if ((await sha256Hex(b.weights)) !== m.files.weights) return E.left('weights.safetensors does not match the SHA-256 in manifest.json (modified or corrupted)')
  const g = graphFromJson(new TextDecoder().decode(b.graph))
  if (E.isLeft(g)) return g
  const st = readSafetensors(b.weights)
  if (E.isLeft(st)) return E.left(`weights.safetensors: ${formatCheckpointError(st.left)}`)
  const params = new Map<string, HostTensor>()
  for (const p of graphParams(g.right)) {
    const t = st.right.tensors.get(p.params.name)
    if (t === undefined) return E.left(`weights.safetensors has no tensor for parameter '${p.params.name}'`)
    if (t.dtype !== 'F32' || !(t.data instanceof Float32Array)) return E.left(`weights.safetensors: '${p.params.name}' is ${t.dtype}, expected F32`)
    if (t.shape.length !== p.params.shape.length || t.shape.some((d, i) => d !== p.params.shape[i]))
      return E.left(`weights.safetensors: '${p.params.name}' has shape ${showShape(t.shape)}, the graph declares ${showShape(p.params.shape)}`)
    params.set(p.params.name, { shape: [...t.shape], data: t.data })
  }
  const extra = [...st.right.tensors.keys()].filter((k) => !params.has(k))
  if (extra.length > 0) return E.left(`weights.safetensors has tensors the graph does not use: ${extra.slice(0, 5).join(', ')}`)
  return E.right({ graph: g.right, params, manifest: m })
}
