// `sparkts run <bundle> --input <in.safetensors> --output <out.safetensors> [--layout nchw|nhwc] [--backend …]`:
// loads a dense model bundle (checked: hashes, graph, weights), reads the tensor `input` (B,C,H,W float, or
// B,H,W,C with --layout nhwc), runs the graph on the chosen backend and writes `features.0…` (+ `logits`)
// as float32 in the same layout (logits are (B, classes) either way). The output file is written
// atomically. A .png/.jpg input is decoded and preprocessed as an evaluation image (batch 1,
// src/image/preprocess.ts: resize the shorter side, centre-crop, ImageNet normalisation).

import * as E from 'fp-ts/lib/Either.js'
import { readFile } from 'node:fs/promises'
import { resolve as resolvePath } from 'node:path'
import type { BackendName } from '../backends/backend.js'
import { formatCheckpointError } from '../checkpoint/errors.js'
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.js'
import type { TensorData } from '../checkpoint/types.js'
import { toFloat32 } from '../checkpoint/types.js'
import { readBundleDir, writeFileAtomic } from '../bundle/fs.js'
import { permute } from '../convert/torch-layout.js'
import { formatError } from '../ir/errors.js'
import type { HostTensor } from '../ir/types.js'
import { showShape } from '../ir/types.js'
import { isImagePath, preprocessImage } from '../image/preprocess.js'
import type { BackendLoader } from './bench.js'

/** Activation layout of `run`'s input and feature outputs. */
export type Layout = 'nchw' | 'nhwc'

/** Options of `sparkts run`. */
export interface RunCommandOptions {
  readonly bundle: string
  readonly input: string
  readonly output: string
  readonly layout: Layout
  readonly backend: BackendName
  readonly threads?: number
  readonly cwd: string
  /** Side of the preprocessed image for image input (default 224). */
  readonly imageSize?: number
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64'])

/** The `input` tensor of a safetensors file as NHWC float32. */
export const readInputTensor = (bytes: Uint8Array, layout: Layout, inChannels: number): E.Either<string, HostTensor> => {
  const st = readSafetensors(bytes)
  if (E.isLeft(st)) return E.left(formatCheckpointError(st.left))
  const t = st.right.tensors.get('input')
  if (t === undefined) return E.left(`no tensor named 'input' (has: ${[...st.right.tensors.keys()].slice(0, 5).join(', ') || 'none'})`)
  if (!FLOAT_DTYPES.has(t.dtype)) return E.left(`'input' is ${t.dtype}; expected a float tensor`)
  if (t.shape.length !== 4) return E.left(`'input' has shape ${showShape(t.shape)}; expected rank 4 (${layout === 'nchw' ? 'B,C,H,W' : 'B,H,W,C'})`)
  const host: HostTensor = { shape: [...t.shape], data: toFloat32(t) }
  const nhwc = layout === 'nchw' ? permute(host, [0, 2, 3, 1]) : host
  if (nhwc.shape[3] !== inChannels) return E.left(`'input' has ${nhwc.shape[3] ?? '?'} channels (${layout.toUpperCase()} ${showShape(t.shape)}); the model takes ${inChannels}`)
  return E.right(nhwc)
}

const imageInput = (bytes: Uint8Array, o: RunCommandOptions, inChannels: number): E.Either<string, HostTensor> =>
  inChannels === 3 ? preprocessImage(bytes, o.imageSize ?? 224, o.input) : E.left(`image input gives 3 channels; the model takes ${inChannels}`)

/** Runs `run`; Right = lines to print. */
export const runCommand = async (o: RunCommandOptions, load: BackendLoader): Promise<E.Either<string, ReadonlyArray<string>>> => {
  const bundle = await readBundleDir(resolvePath(o.cwd, o.bundle))
  if (E.isLeft(bundle)) return bundle
  const { graph, params, manifest } = bundle.right
  let bytes: Uint8Array
  try {
    bytes = await readFile(resolvePath(o.cwd, o.input))
  } catch (e) {
    return E.left(`cannot read '${o.input}': ${e instanceof Error ? e.message : String(e)}`)
  }
  const x = isImagePath(o.input) ? imageInput(bytes, o, manifest.arch.inChannels) : readInputTensor(bytes, o.layout, manifest.arch.inChannels)
  if (E.isLeft(x)) return E.left(`${o.input}: ${x.left}`)
  const backend = await load(o.backend, o.threads)
  if (E.isLeft(backend)) return E.left(`backend ${o.backend}: ${backend.left}`)
  const exe = backend.right.compile(graph, { inputShapes: { [manifest.input]: x.right.shape }, params })
  if (E.isLeft(exe)) return E.left(formatError(exe.left))
  let outs: ReadonlyMap<string, HostTensor>
  try {
    outs = await exe.right.run(new Map([[manifest.input, x.right]]))
  } finally {
    exe.right.dispose()
  }
  const tensors = new Map<string, TensorData>()
  for (const [name, t] of outs) {
    const v = o.layout === 'nchw' && t.shape.length === 4 ? permute(t, [0, 3, 1, 2]) : t
    tensors.set(name, { dtype: 'F32', shape: v.shape, data: v.data })
  }
  const w = writeSafetensors(tensors, { producer: 'sparkts run', layout: o.layout, model: manifest.arch.name })
  if (E.isLeft(w)) return E.left(formatCheckpointError(w.left))
  const written = await writeFileAtomic(resolvePath(o.cwd, o.output), w.right)
  if (E.isLeft(written)) return written
  return E.right([...tensors].map(([k, t]) => `${k} ${showShape(t.shape)}`).concat(`wrote ${o.output} (${o.layout.toUpperCase()}, float32, backend ${o.backend})`))
}
