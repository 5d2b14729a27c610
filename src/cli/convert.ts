// `sparkts convert <checkpoint> --arch <model> --out <dir> [--strict] [--num-classes N]`: reads a PyTorch
// or safetensors checkpoint, maps its keys (SparK, FCMAE, timm/torchvision, official ConvNeXt), converts
// layouts, applies the load policy (src/convert/convert.ts), folds BatchNorm and writes a dense model
// bundle atomically (src/bundle/). Returns the report lines to print, or a one-line error.

import * as E from 'fp-ts/lib/Either.js'
import { readFile } from 'node:fs/promises'
import { basename, resolve as resolvePath } from 'node:path'
import { formatCheckpointError } from '../checkpoint/errors.js'
import { readCheckpoint } from '../checkpoint/read.js'
import type { Manifest } from '../bundle/bundle.js'
import { encodeBundle, sha256Hex } from '../bundle/bundle.js'
import { writeBundleDir } from '../bundle/fs.js'
import type { FullReport } from '../convert/convert.js'
import { convertCheckpoint } from '../convert/convert.js'
import type { ZooEntry } from '../models/zoo.js'
import { resolveModel } from './resolve.js'

/** Options of `sparkts convert`. */
export interface ConvertCommandOptions {
  readonly checkpoint: string
  readonly arch: string
  readonly out: string
  readonly strict: boolean
  readonly numClasses: number
  readonly cwd: string
  readonly zoo: Readonly<Record<string, ZooEntry>>
  /** sparkts version recorded in the manifest. */
  readonly version: string
}

const names = (xs: ReadonlyArray<string>): string => (xs.length === 0 ? '' : `: ${xs.join(', ')}`)

/** The report as lines: one per category, count then names. */
export const formatReport = (r: FullReport): ReadonlyArray<string> => [
  `source: ${r.source}`,
  `matched (${r.matched.length})${names(r.matched)}`,
  `missing (${r.missing.length})${names(r.missing)}`,
  `unexpected (${r.unexpected.length})${names(r.unexpected)}`,
  `shape-mismatched (${r.mismatched.length})${names(r.mismatched)}`,
  `initialised from defaults (${r.initialised.length})${names(r.initialised)}`,
  `dropped, not part of a dense encoder (${r.dropped.length})${names(r.dropped)}`,
  `ignored, deprecated/unused buffers (${r.ignored.length})`,
  `folded batch norms: ${r.foldedBatchNorms}`,
]

/** Runs `convert`; Right = lines to print. */
export const convertCommand = async (o: ConvertCommandOptions): Promise<E.Either<string, ReadonlyArray<string>>> => {
  const bb = await resolveModel(o.arch, o.zoo, { cwd: o.cwd })
  if (E.isLeft(bb)) return bb
  const path = resolvePath(o.cwd, o.checkpoint)
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (e) {
    return E.left(`cannot read '${o.checkpoint}': ${e instanceof Error ? e.message : String(e)}`)
  }
  const ckpt = readCheckpoint(bytes, basename(path))
  if (E.isLeft(ckpt)) return E.left(`${o.checkpoint}: ${formatCheckpointError(ckpt.left)}`)
  const model = convertCheckpoint(ckpt.right, bb.right, { numClasses: o.numClasses, strict: o.strict })
  if (E.isLeft(model)) return E.left(`${o.checkpoint}: ${model.left}`)
  const { graph, params, info, report, numClasses } = model.right
  const n = info.featureChannels.length
  const manifest: Omit<Manifest, 'files'> = {
    format: 'sparkts-bundle',
    version: 1,
    sparkts: o.version,
    created: new Date().toISOString(),
    source: { file: basename(path), sha256: await sha256Hex(bytes), format: ckpt.right.format, wrapper: ckpt.right.wrapper },
    arch: {
      spec: o.arch,
      name: info.name,
      family: info.family,
      inChannels: info.inChannels,
      downsampleRatio: info.downsampleRatio,
      featureChannels: [...info.featureChannels],
      featureStrides: info.featureChannels.map((_, i) => info.downsampleRatio / 2 ** (n - 1 - i)),
      numClasses,
    },
    input: 'input',
    outputs: graph.outputs.map((x) => x.name),
    conversion: report,
  }
  const enc = await encodeBundle(graph, params, manifest)
  if (E.isLeft(enc)) return enc
  const written = await writeBundleDir(resolvePath(o.cwd, o.out), enc.right)
  if (E.isLeft(written)) return written
  return E.right([...formatReport(report), `wrote ${o.out} (${params.size} tensors, ${enc.right.weights.length} bytes of weights)`])
}
