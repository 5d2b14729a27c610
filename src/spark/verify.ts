// `verifySparse`: runs SparK properties a, b, c, e (issue 3 §6) on one backbone and its sparsified graph
// as library code, returning a report (the CLI `sparkts verify` prints it). Every check compares the same
// set of probed values: every activation the sparsify result marks `masked` (rank 4, at every scale,
// from the masked image to the features) plus every named output; both graphs are compiled once with
// those values as outputs, so the backend exposes its intermediates. Per run (a fresh random image and
// SparK mask, seeded):
//   a. backend: sparse graph with an all-visible mask ≡ dense graph            (worst relative error)
//   b. backend: every masked activation is 0 at masked positions               (non-zeros, worst |v|)
//   c. backend masked-dense ≡ float64 submanifold reference evaluating the DENSE graph at active sites
//      only (evaluateSubmanifoldAll), compared node by node                    (worst relative error)
//   e. backend: pixels inside masked patches replaced → no probed value changes (worst |Δ|)
// Relative errors are max|x − ref| / max(1, max|ref|) per value. Tolerances (`tolerancesFor`): a tfjs
// backend computes in float32, 1e-4 relative (float32 rounding ~6e-8 accumulated over a deep net, with
// margin); b and e multiply by an exact 0, so any |v| > 1e-6 is a leak. The reference backend evaluates in
// float64 and rounds outputs to float32 (≤ 6e-8 relative), so 1e-6 for a and c, and b and e exact.
// The float64 submanifold evaluation dominates the time (convnext_tiny 64×64, batch 2: ~7 s per run);
// everything else runs on the backend. A property whose reference feature map is all zeros proves
// nothing and fails (listed in `deadFeatures`).

import * as E from 'fp-ts/lib/Either.js'
import { performance } from 'node:perf_hooks'
import type { Backend, Executable, TensorMap } from '../backends/backend.js'
import type { F64Tensor } from '../backends/reference/tensor.js'
import { evaluateSubmanifoldAll } from '../backends/reference/submanifold.js'
import type { CompileError } from '../ir/errors.js'
import { formatError } from '../ir/errors.js'
import type { Graph, NodeId } from '../ir/graph.js'
import { describeNode, graphInputs } from '../ir/graph.js'
import type { HostTensor } from '../ir/types.js'
import { verify } from '../ir/verify.js'
import { initParams } from '../ir/init.js'
import type { Backbone, Model } from '../models/backbone.js'
import { buildBackbone } from '../models/backbone.js'
import { sparsifyGraph } from '../passes/sparsify.js'
import type { RewriteResult } from '../passes/mask-rewrite.js'
import { hashSeed, makeRng } from '../util/rng.js'
import { expandMask, keepCount, randomMask } from './mask.js'

/** The properties checked. */
export type PropertyId = 'a' | 'b' | 'c' | 'e'

/** Outcome of one property over all runs. */
export interface PropertyResult {
  readonly id: PropertyId
  readonly property: string
  /** What computed the values compared. */
  readonly where: string
  readonly runs: number
  readonly measure: 'relative' | 'absolute'
  readonly worst: number
  readonly tolerance: number
  readonly pass: boolean
  /** b: non-zero scalars at masked positions; a, c, e: probed values (node × run) beyond the tolerance. */
  readonly failures: number
  /** Where the worst value occurred, counts. */
  readonly detail: string
}

/** What `verifySparse` reports. */
export interface VerifyReport {
  readonly model: string
  readonly backend: string
  readonly image: ReadonlyArray<number>
  readonly maskGrid: readonly [number, number]
  readonly maskRatio: number
  /** Visible cells per sample. */
  readonly keep: number
  readonly runs: number
  readonly seed: number
  /** Probed values per run, and how many of them are masked activations (checked by b). */
  readonly probes: number
  readonly maskedProbes: number
  /** Resolutions (H×W) of the masked activations. */
  readonly scales: ReadonlyArray<string>
  /** Named outputs that were all zero in some run (nothing compared: a and c fail). */
  readonly deadFeatures: ReadonlyArray<string>
  readonly properties: ReadonlyArray<PropertyResult>
  readonly pass: boolean
  readonly seconds: { readonly total: number; readonly backend: number; readonly reference: number }
}

/** Why verification could not run. */
export type VerifyError = { readonly _tag: 'Compile'; readonly stage: string; readonly error: CompileError } | { readonly _tag: 'Setup'; readonly message: string }

/** One-line message of a VerifyError. */
export const formatVerifyError = (e: VerifyError): string => (e._tag === 'Compile' ? `${e.stage}: ${formatError(e.error)}` : e.message)

/** A dense graph, its sparsify result, and parameter values. */
export interface VerifySubject {
  readonly name: string
  readonly dense: Graph
  readonly rewrite: RewriteResult
  readonly params: TensorMap
  readonly downsampleRatio: number
}

/** Settings of a verification. */
export interface VerifyOptions {
  /** Image (height, width); multiples of the downsample ratio. */
  readonly inputSize: readonly [number, number]
  readonly batch: number
  readonly runs: number
  readonly seed: number
  readonly maskRatio: number
  /** Progress lines (e.g. to stderr). */
  readonly progress?: (line: string) => void
}

/** Tolerances per property on a backend (see the header). */
export const tolerancesFor = (backend: string): Readonly<Record<PropertyId, number>> =>
  backend === 'reference' ? { a: 1e-6, b: 0, c: 1e-6, e: 0 } : { a: 1e-4, b: 1e-6, c: 1e-4, e: 1e-6 }

const setup = (message: string): E.Either<VerifyError, never> => E.left({ _tag: 'Setup', message })

/** max|a − b|, divided by max(1, max|b|) when `relative`; NaN anywhere or a length mismatch → Infinity. */
const diff = (a: ArrayLike<number>, b: ArrayLike<number>, relative: boolean): number => {
  if (a.length !== b.length) return Infinity
  let [d, m] = [0, 1]
  for (let i = 0; i < b.length; i++) {
    const x = Math.abs((a[i] ?? NaN) - (b[i] ?? NaN))
    if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x
    m = Math.max(m, Math.abs(b[i] ?? 0))
  }
  return relative ? d / m : d
}

const allZero = (a: ArrayLike<number>): boolean => Array.prototype.every.call(a, (v: number) => v === 0) as boolean

/** A probed value: its output key, the dense node and the sparse node computing it. */
interface Probe {
  readonly key: string
  readonly dense: NodeId
  readonly sparse: NodeId
  readonly label: string
  /** A masked activation (checked by b). */
  readonly masked: boolean
  /** A named output of the dense graph (guarded against all-zero values). */
  readonly output?: string
}

const probesOf = (s: VerifySubject): ReadonlyArray<Probe> => {
  const byId = new Map(s.dense.nodes.map((n) => [n.id, n]))
  const outName = new Map(s.dense.outputs.map((o) => [o.node, o.name]))
  const ids = new Set<NodeId>([...s.dense.nodes.filter((n) => s.rewrite.states.get(n.id)?.kind === 'masked').map((n) => n.id), ...s.dense.outputs.map((o) => o.node)])
  return [...ids].flatMap((id) => {
    const n = byId.get(id)
    if (n === undefined) return []
    const out = outName.get(id)
    const label = `${describeNode(n)}${out === undefined ? '' : ` = ${out}`}`
    const p = { key: `v${id}`, dense: id, sparse: s.rewrite.values.get(id) ?? id, label, masked: s.rewrite.states.get(id)?.kind === 'masked' }
    return [out === undefined ? p : { ...p, output: out }]
  })
}

/** Worst value of one property so far, where it happened, and how many values exceeded the tolerance. */
class Worst {
  value = 0
  at = ''
  failures = 0
  constructor(readonly tolerance: number) {}
  see(v: number, at: string): void {
    if (!(v <= this.tolerance)) this.failures++
    if (!(v <= this.value)) [this.value, this.at] = [Number.isNaN(v) ? Infinity : v, at]
  }
}

const randn = (shape: ReadonlyArray<number>, seed: number): HostTensor => {
  const r = makeRng(seed)
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()) }
}

const f64 = (t: HostTensor): F64Tensor => ({ shape: t.shape, data: Float64Array.from(t.data) })

/** Runs properties a, b, c, e of `subject` on `backend`; Left when the graphs cannot be compiled or the settings are unusable. */
export const verifySparse = async (subject: VerifySubject, backend: Backend, o: VerifyOptions): Promise<E.Either<VerifyError, VerifyReport>> => {
  const t0 = performance.now()
  const [H, W] = o.inputSize
  const ds = subject.downsampleRatio
  if (H % ds !== 0 || W % ds !== 0) return setup(`input size ${H}x${W} is not a multiple of the downsample ratio ${ds}`)
  const [h, w] = [H / ds, W / ds]
  const keep = keepCount(h * w, o.maskRatio)
  if (keep < 1 || keep >= h * w) return setup(`mask ratio ${o.maskRatio} keeps ${keep} of the ${h}x${w} = ${h * w} mask cells; b and e need at least one visible and one masked cell (change --mask-ratio or --input-size)`)
  const denseIns = graphInputs(subject.dense)
  const image = denseIns[0]
  const C = image?.params.shape[3]
  if (denseIns.length !== 1 || image === undefined || image.params.shape.length !== 4 || typeof C !== 'number') return setup('verify needs a dense graph with exactly one NHWC image input of known channels')
  const maskNode = graphInputs(subject.rewrite.graph).find((n) => n.params.name !== image.params.name)
  if (maskNode === undefined) return setup('the sparsified graph has no mask input')
  const [imgName, maskName] = [image.params.name, maskNode.params.name]
  const imgShape = [o.batch, H, W, C]
  const maskShape = [o.batch, h, w, 1]
  const types = verify(subject.dense, { [imgName]: imgShape })
  if (E.isLeft(types)) return E.left({ _tag: 'Compile', stage: 'dense graph', error: types.left })
  const probes = probesOf(subject)
  const withProbes = (g: Graph, node: (p: Probe) => NodeId): Graph => ({ nodes: g.nodes, outputs: probes.map((p) => ({ name: p.key, node: node(p) })) })
  const dExe = backend.compile(withProbes(subject.dense, (p) => p.dense), { inputShapes: { [imgName]: imgShape }, params: subject.params })
  if (E.isLeft(dExe)) return E.left({ _tag: 'Compile', stage: `dense graph on ${backend.name}`, error: dExe.left })
  const sExe = backend.compile(withProbes(subject.rewrite.graph, (p) => p.sparse), { inputShapes: { [imgName]: imgShape, [maskName]: maskShape }, params: subject.params })
  if (E.isLeft(sExe)) {
    dExe.right.dispose()
    return E.left({ _tag: 'Compile', stage: `sparse graph on ${backend.name}`, error: sExe.left })
  }
  const tol = tolerancesFor(backend.name)
  o.progress?.(`${subject.name}: image ${imgShape.join('x')}, mask ${maskShape.join('x')} (ratio ${o.maskRatio}), ${o.runs} run(s), ${probes.length} probed values; tolerances a ${tol.a}, b ${tol.b}, c ${tol.c}, e ${tol.e} on ${backend.name}`)
  try {
    return await check(subject, backend, o, { dense: dExe.right, sparse: sExe.right, probes, types: types.right, imgName, maskName, imgShape, maskShape, keep, t0 })
  } finally {
    dExe.right.dispose()
    sExe.right.dispose()
  }
}

interface Prepared {
  readonly dense: Executable
  readonly sparse: Executable
  readonly probes: ReadonlyArray<Probe>
  readonly types: Parameters<typeof evaluateSubmanifoldAll>[1]
  readonly imgName: string
  readonly maskName: string
  readonly imgShape: ReadonlyArray<number>
  readonly maskShape: ReadonlyArray<number>
  readonly keep: number
  readonly t0: number
}

const check = async (s: VerifySubject, backend: Backend, o: VerifyOptions, p: Prepared): Promise<E.Either<VerifyError, VerifyReport>> => {
  const tol = tolerancesFor(backend.name)
  const [a, b, c, e] = [new Worst(tol.a), new Worst(-1), new Worst(tol.c), new Worst(tol.e)]
  let active = 0
  const scales = new Set<string>()
  const dead = new Set<string>()
  let [tBackend, tRef] = [0, 0]
  const params64 = new Map([...s.params].map(([k, v]) => [k, f64(v)] as const))
  const maskedProbes = p.probes.filter((q) => q.masked)
  for (let r = 0; r < o.runs; r++) {
    const img = randn(p.imgShape, hashSeed(`image.${r}`, o.seed))
    const m = randomMask({ batch: o.batch, h: p.maskShape[1] ?? 1, w: p.maskShape[2] ?? 1, ratio: o.maskRatio, seed: hashSeed(`mask.${r}`, o.seed) })
    if (E.isLeft(m)) return setup(m.left.message)
    const mask = m.right
    const ones: HostTensor = { shape: mask.shape, data: new Float32Array(mask.data.length).fill(1) }
    const big = expandMask(mask, p.imgShape[1] ?? 1, p.imgShape[2] ?? 1)
    if (E.isLeft(big)) return setup(big.left.message)
    const C = p.imgShape[3] ?? 1
    const rng = makeRng(hashSeed(`change.${r}`, o.seed))
    const changed: HostTensor = { shape: img.shape, data: Float32Array.from(img.data, (v, i) => (big.right.data[Math.floor(i / C)] === 0 ? v + 5 + 3 * rng.normal() : v)) }

    let t = performance.now()
    const d = await p.dense.run(new Map([[p.imgName, img]]))
    const sa = await p.sparse.run(new Map([[p.imgName, img], [p.maskName, ones]]))
    const sm = await p.sparse.run(new Map([[p.imgName, img], [p.maskName, mask]]))
    const se = await p.sparse.run(new Map([[p.imgName, changed], [p.maskName, mask]]))
    tBackend += performance.now() - t
    t = performance.now()
    const sub = evaluateSubmanifoldAll(s.dense, p.types, new Map([[p.imgName, f64(img)]]), params64, f64(mask))
    tRef += performance.now() - t

    const where = (q: Probe): string => `${q.label}, run ${r + 1}`
    for (const q of p.probes) {
      const [dv, sav, smv, sev, ref] = [d.get(q.key)?.data ?? [], sa.get(q.key)?.data ?? [], sm.get(q.key)?.data ?? [], se.get(q.key)?.data ?? [], sub.get(q.dense)?.data ?? []]
      if (q.output !== undefined && (allZero(dv) || allZero(ref))) dead.add(q.output)
      a.see(diff(sav, dv, true), where(q))
      c.see(diff(smv, ref, true), where(q))
      e.see(diff(sev, smv, false), where(q))
    }
    for (const q of maskedProbes) {
      const v = sm.get(q.key)
      if (v === undefined || v.shape.length !== 4) {
        b.see(Infinity, `${where(q)}: not a rank-4 value`)
        continue
      }
      const [, VH = 1, VW = 1, VC = 1] = v.shape
      scales.add(`${VH}x${VW}`)
      const mv = expandMask(mask, VH, VW)
      if (E.isLeft(mv)) return setup(`${q.label}: ${mv.left.message}`)
      for (let i = 0; i < v.data.length; i++) {
        const x = v.data[i] ?? NaN
        if (mv.right.data[Math.floor(i / VC)] !== 0) active += x !== 0 ? 1 : 0
        else if (x !== 0) b.see(Math.abs(x), where(q))
      }
    }
    const ms = (x: number): string => `${(x / 1000).toFixed(1)} s`
    o.progress?.(`run ${r + 1}/${o.runs}: ${backend.name} ${ms(tBackend)}, float64 submanifold reference ${ms(tRef)} (so far: a ${a.value.toExponential(1)}, b ${b.value.toExponential(1)}, c ${c.value.toExponential(1)}, e ${e.value.toExponential(1)})`)
  }
  const deadNote = dead.size === 0 ? '' : `; all-zero outputs (nothing compared): ${[...dead].join(', ')}`
  const result = (id: PropertyId, property: string, where: string, measure: 'relative' | 'absolute', w: Worst, extra = '', guard = true): PropertyResult => ({
    id, property, where, runs: o.runs, measure, worst: w.value, tolerance: tol[id], pass: guard && w.value <= tol[id], failures: w.failures,
    detail: `${w.at === '' ? `${p.probes.length} values per run` : `worst at ${w.at}`}${extra}`,
  })
  const name = backend.name
  const properties = [
    result('a', 'all-visible mask: sparse ≡ dense', `${name} sparse vs ${name} dense`, 'relative', a, deadNote, dead.size === 0),
    result('b', '0 at masked positions, every scale', name, 'absolute', b, `; ${b.failures} non-zero(s) at masked positions in ${maskedProbes.length} activations × ${o.runs} runs at ${scales.size} scales; ${active} non-zero active values`, active > 0 && scales.size > 0),
    result('c', 'masked-dense ≡ submanifold reference', `${name} vs float64 submanifold`, 'relative', c, deadNote, dead.size === 0),
    result('e', 'masked pixels do not change features', name, 'absolute', e),
  ]
  return E.right({
    model: s.name, backend: name, image: p.imgShape, maskGrid: [p.maskShape[1] ?? 1, p.maskShape[2] ?? 1], maskRatio: o.maskRatio, keep: p.keep, runs: o.runs, seed: o.seed,
    probes: p.probes.length, maskedProbes: maskedProbes.length, scales: [...scales], deadFeatures: [...dead], properties, pass: properties.every((x) => x.pass),
    seconds: { total: (performance.now() - p.t0) / 1000, backend: tBackend / 1000, reference: tRef / 1000 },
  })
}

/** Parameter values for verification: the model's own init, with every 1-D parameter perturbed (seeded) so that zero-initialised
 *  BN gammas and 1e-6 layer scales do not switch whole branches off; BN running variances stay positive. */
export const verifyParams = (g: Graph, seed: number): Map<string, HostTensor> => {
  const byId = new Map(g.nodes.map((n) => [n.id, n]))
  const variances = new Set(g.nodes.flatMap((n) => (n.op === 'batchNorm' && n.inputs[4] !== undefined ? [byId.get(n.inputs[4])] : [])).flatMap((p) => (p?.op === 'param' ? [p.params.name] : [])))
  return new Map([...initParams(g, seed)].map(([name, t]) => {
    if (t.shape.length !== 1) return [name, t] as const
    const r = makeRng(hashSeed(`perturb.${name}`, seed))
    const data = Float32Array.from(t.data, (v) => v + 0.2 * r.normal())
    if (variances.has(name)) data.forEach((v, i) => (data[i] = 0.5 + Math.abs(v)))
    return [name, { shape: t.shape, data }] as const
  }))
}

/** Builds `bb` for the given size and batch (inference-mode BN), sparsifies it and runs `verifySparse`; a sparsify error names the node. */
export const verifyBackbone = async (bb: Backbone, backend: Backend, o: VerifyOptions): Promise<E.Either<VerifyError, VerifyReport>> => {
  let built: E.Either<CompileError, Model>
  try {
    built = buildBackbone(bb, { inputSize: o.inputSize, batch: o.batch, training: false })
  } catch (e) {
    return setup(`building ${bb.name} threw: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (E.isLeft(built)) return E.left({ _tag: 'Compile', stage: `building ${bb.name}`, error: built.left })
  const dense = built.right.graph
  const rewrite = sparsifyGraph(dense, { downsampleRatio: bb.downsampleRatio })
  if (E.isLeft(rewrite)) return E.left({ _tag: 'Compile', stage: `sparsify ${bb.name}`, error: rewrite.left })
  return verifySparse({ name: bb.name, dense, rewrite: rewrite.right, params: verifyParams(dense, o.seed), downsampleRatio: bb.downsampleRatio }, backend, o)
}
