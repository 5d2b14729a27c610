// `sparkts reconstruct <checkpoint> --image <png|jpg> --out <png> [--mask-seed N]` and, for machines,
// `sparkts reconstruct <checkpoint> --input <in.safetensors> --mask <mask.safetensors> --output <out.safetensors>`.
// Loads a SparK with-decoder checkpoint (model facts from the checkpoint itself, reconstruct-checkpoint.ts;
// `--arch` overrides its `arch`), builds the whole SparK graph in inference mode (every BatchNorm on its
// running statistics) and runs it. Image mode: the eval preprocessing (src/image/preprocess.ts), a random
// SparK mask (ratio from the config), and one PNG of three panels, masked input | reconstruction |
// original (spec §5 visualisation, src/spark/visualise.ts). Machine mode: `input` (B,3,H,W normalised)
// and `mask` (B,1,h,w, 1 = visible) in, `loss` (one element), `reconstruction` (raw decoder output,
// B,3,H,W) and `features.0…` (sparse encoder maps, NCHW, largest first) out. Outputs are written
// atomically; every failure is a one-line Left.

import * as E from 'fp-ts/lib/Either.js'
import { readFile } from 'node:fs/promises'
import { basename, resolve as resolvePath } from 'node:path'
import type { BackendName } from '../backends/backend.js'
import { formatCheckpointError } from '../checkpoint/errors.js'
import { readCheckpoint } from '../checkpoint/read.js'
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.js'
import type { TensorData } from '../checkpoint/types.js'
import { toFloat32 } from '../checkpoint/types.js'
import { writeFileAtomic } from '../bundle/fs.js'
import { fromTorch, permute } from '../convert/torch-layout.js'
import { encodePng } from '../image/codec.js'
import { sideBySide } from '../image/compose.js'
import { toRgb8Image } from '../image/image.js'
import { denormaliseImage } from '../image/normalise.js'
import { preprocessImage } from '../image/preprocess.js'
import { formatError } from '../ir/errors.js'
import type { HostTensor } from '../ir/types.js'
import { showShape } from '../ir/types.js'
import type { Backbone } from '../models/backbone.js'
import type { ZooEntry } from '../models/zoo.js'
import { randomMask, userMask } from '../spark/mask.js'
import { buildSpark } from '../spark/spark.js'
import { visualise } from '../spark/visualise.js'
import type { BackendLoader } from './bench.js'
import type { SparkCheckpoint } from './reconstruct-checkpoint.js'
import { describeSparkCheckpoint, sparkKeyOf } from './reconstruct-checkpoint.js'
import { resolveModel } from './resolve.js'
import { readInputTensor } from './run.js'

/** Options of `sparkts reconstruct`. */
export interface ReconstructOptions {
  readonly checkpoint: string
  /** Zoo name or module path; overrides the checkpoint's `arch`. */
  readonly arch?: string
  readonly image?: string
  readonly out?: string
  readonly maskSeed: number
  readonly input?: string
  readonly mask?: string
  readonly output?: string
  readonly backend: BackendName
  readonly threads?: number
  readonly cwd: string
  readonly zoo: Readonly<Record<string, ZooEntry>>
}

type Mode = { readonly kind: 'image'; readonly image: string; readonly out: string } | { readonly kind: 'tensors'; readonly input: string; readonly mask: string; readonly output: string }

/** Image mode (--image + --out) or machine mode (--input + --mask + --output), never a mix. */
export const modeOf = (o: Pick<ReconstructOptions, 'image' | 'out' | 'input' | 'mask' | 'output'>): E.Either<string, Mode> => {
  const img = [o.image, o.out].filter((v) => v !== undefined).length
  const mac = [o.input, o.mask, o.output].filter((v) => v !== undefined).length
  if (img > 0 && mac > 0) return E.left('give either --image and --out, or --input, --mask and --output, not both')
  if (o.image !== undefined && o.out !== undefined) return E.right({ kind: 'image', image: o.image, out: o.out })
  if (o.input !== undefined && o.mask !== undefined && o.output !== undefined) return E.right({ kind: 'tensors', input: o.input, mask: o.mask, output: o.output })
  return E.left(img > 0 ? 'image mode needs both --image and --out' : mac > 0 ? 'machine mode needs --input, --mask and --output' : 'nothing to do: give --image <png|jpg> --out <png>, or --input, --mask and --output')
}

const readBytes = async (cwd: string, path: string): Promise<E.Either<string, Uint8Array>> => {
  try {
    return E.right(await readFile(resolvePath(cwd, path)))
  } catch (e) {
    return E.left(`cannot read '${path}': ${e instanceof Error ? e.message : String(e)}`)
  }
}

const firstFew = (xs: ReadonlyArray<string>): string => `${xs.slice(0, 4).join(', ')}${xs.length > 4 ? `, … (${xs.length} in all)` : ''}`

/** The `mask` tensor of a safetensors file, (B,1,h,w) → (B,h,w,1), checked against the expected grid. */
export const readMaskTensor = (bytes: Uint8Array, want: readonly [number, number, number]): E.Either<string, HostTensor> => {
  const st = readSafetensors(bytes)
  if (E.isLeft(st)) return E.left(formatCheckpointError(st.left))
  const t = st.right.tensors.get('mask')
  if (t === undefined) return E.left(`no tensor named 'mask' (has: ${[...st.right.tensors.keys()].slice(0, 5).join(', ') || 'none'})`)
  const [B, h, w] = want
  if (t.shape.length !== 4 || t.shape[0] !== B || t.shape[1] !== 1 || t.shape[2] !== h || t.shape[3] !== w)
    return E.left(`'mask' has shape ${showShape(t.shape)}; expected [${B},1,${h},${w}] (B,1,H/ratio,W/ratio; 1 = visible)`)
  return E.mapLeft((e: { message: string }) => e.message)(userMask([B, h, w, 1], toFloat32(t)))
}

/** Builds the SparK graph (inference mode) for `x`'s shape, loads the checkpoint into it and runs it. */
export const runSpark = async (
  bb: Backbone,
  spec: SparkCheckpoint,
  x: HostTensor,
  mask: HostTensor,
  backend: { readonly name: BackendName; readonly threads?: number; readonly load: BackendLoader },
): Promise<E.Either<string, { readonly outputs: ReadonlyMap<string, HostTensor>; readonly unexpected: ReadonlyArray<string> }>> => {
  const [B = 0, H = 0, W = 0] = x.shape
  const ds = bb.downsampleRatio
  if (H % ds !== 0 || W % ds !== 0) return E.left(`input ${H}x${W} is not a multiple of ${bb.name}'s downsample ratio ${ds}`)
  const model = buildSpark(bb, { decoderWidth: spec.decoderWidth, densifyNorm: spec.densifyNorm, training: false, inputSize: [H, W], batch: B })
  if (E.isLeft(model)) return E.left(formatError(model.left))
  const { params, report } = fromTorch(model.right.graph, spec.state, sparkKeyOf(spec.prefixed))
  if (report.missing.length > 0) return E.left(`checkpoint does not fit ${bb.name} (decoder width ${spec.decoderWidth}, densify norm ${spec.densifyNorm}): ${report.missing.length} missing keys: ${firstFew(report.missing)}`)
  if (report.mismatched.length > 0) return E.left(`checkpoint does not fit ${bb.name}: ${report.mismatched.length} shape-mismatched keys: ${firstFew(report.mismatched)}`)
  const b = await backend.load(backend.name, backend.threads)
  if (E.isLeft(b)) return E.left(`backend ${backend.name}: ${b.left}`)
  const exe = b.right.compile(model.right.graph, { inputShapes: { input: x.shape, mask: mask.shape }, params })
  if (E.isLeft(exe)) return E.left(formatError(exe.left))
  try {
    const outputs = await exe.right.run(new Map([['input', x], ['mask', mask]]))
    return E.right({ outputs, unexpected: report.unexpected })
  } finally {
    exe.right.dispose()
  }
}

const describe = (bb: Backbone, spec: SparkCheckpoint): string =>
  `model ${bb.name}, decoder width ${spec.decoderWidth}, densify norm ${spec.densifyNorm}, mask ratio ${spec.maskRatio}, input size ${spec.inputSize}`

const output = (outs: ReadonlyMap<string, HostTensor>, name: string): E.Either<string, HostTensor> => {
  const t = outs.get(name)
  return t === undefined ? E.left(`the SparK graph produced no '${name}'`) : E.right(t)
}

/** Runs `reconstruct`; Right = lines to print. */
export const reconstructCommand = async (o: ReconstructOptions, load: BackendLoader): Promise<E.Either<string, ReadonlyArray<string>>> => {
  const mode = modeOf(o)
  if (E.isLeft(mode)) return mode
  const bytes = await readBytes(o.cwd, o.checkpoint)
  if (E.isLeft(bytes)) return bytes
  const ckpt = readCheckpoint(bytes.right, basename(o.checkpoint))
  if (E.isLeft(ckpt)) return E.left(`${o.checkpoint}: ${formatCheckpointError(ckpt.left)}`)
  const spec = describeSparkCheckpoint(ckpt.right)
  if (E.isLeft(spec)) return E.left(`${o.checkpoint}: ${spec.left}`)
  const archSpec = o.arch ?? spec.right.arch
  if (archSpec === undefined) return E.left(`${o.checkpoint}: the checkpoint names no architecture (no 'arch' entry); pass --arch <zoo name|module path>`)
  const bb = await resolveModel(archSpec, o.zoo, { cwd: o.cwd })
  if (E.isLeft(bb)) return bb
  const be = { name: o.backend, load, ...(o.threads === undefined ? {} : { threads: o.threads }) }
  const m = mode.right
  const ds = bb.right.downsampleRatio
  if (m.kind === 'tensors') {
    const inBytes = await readBytes(o.cwd, m.input)
    if (E.isLeft(inBytes)) return inBytes
    const x = readInputTensor(inBytes.right, 'nchw', bb.right.inChannels)
    if (E.isLeft(x)) return E.left(`${m.input}: ${x.left}`)
    const [B = 0, H = 0, W = 0] = x.right.shape
    const maskBytes = await readBytes(o.cwd, m.mask)
    if (E.isLeft(maskBytes)) return maskBytes
    const mask = readMaskTensor(maskBytes.right, [B, Math.floor(H / ds), Math.floor(W / ds)])
    if (E.isLeft(mask)) return E.left(`${m.mask}: ${mask.left}`)
    const r = await runSpark(bb.right, spec.right, x.right, mask.right, be)
    if (E.isLeft(r)) return r
    const names = ['loss', 'reconstruction', ...bb.right.featureChannels.map((_, k) => `features.${k}`)]
    const tensors = new Map<string, TensorData>()
    for (const name of names) {
      const t = output(r.right.outputs, name)
      if (E.isLeft(t)) return t
      const v = name === 'loss' ? { shape: [1], data: t.right.data } : permute(t.right, [0, 3, 1, 2])
      tensors.set(name, { dtype: 'F32', shape: v.shape, data: Float32Array.from(v.data) })
    }
    const w = writeSafetensors(tensors, { producer: 'sparkts reconstruct', layout: 'nchw', model: bb.right.name })
    if (E.isLeft(w)) return E.left(formatCheckpointError(w.left))
    const written = await writeFileAtomic(resolvePath(o.cwd, m.output), w.right)
    if (E.isLeft(written)) return written
    return E.right([
      describe(bb.right, spec.right),
      ...(r.right.unexpected.length > 0 ? [`warning: ${r.right.unexpected.length} checkpoint keys unused: ${firstFew(r.right.unexpected)}`] : []),
      ...[...tensors].map(([k, t]) => `${k} ${showShape(t.shape)}`),
      `loss ${(r.right.outputs.get('loss')?.data[0] ?? NaN).toPrecision(6)} (on the masked patches)`,
      `wrote ${m.output} (NCHW, float32, backend ${o.backend})`,
    ])
  }
  const size = spec.right.inputSize
  if (size % ds !== 0) return E.left(`${o.checkpoint}: input size ${size} is not a multiple of ${bb.right.name}'s downsample ratio ${ds}`)
  const imgBytes = await readBytes(o.cwd, m.image)
  if (E.isLeft(imgBytes)) return imgBytes
  const x = preprocessImage(imgBytes.right, size, m.image)
  if (E.isLeft(x)) return x
  const mask = randomMask({ batch: 1, h: size / ds, ratio: spec.right.maskRatio, seed: o.maskSeed })
  if (E.isLeft(mask)) return E.left(mask.left.message)
  const r = await runSpark(bb.right, spec.right, x.right, mask.right, be)
  if (E.isLeft(r)) return r
  const rec = output(r.right.outputs, 'reconstruction')
  if (E.isLeft(rec)) return rec
  const vis = visualise(x.right, mask.right, rec.right, ds)
  if (E.isLeft(vis)) return vis
  const panels = [vis.right.masked, vis.right.reconstruction, vis.right.original].map((t) => denormaliseImage(t))
  const picture = sideBySide(panels)
  const png = encodePng(toRgb8Image(picture))
  const written = await writeFileAtomic(resolvePath(o.cwd, m.out), png)
  if (E.isLeft(written)) return written
  const visible = mask.right.data.reduce((s, v) => s + v, 0)
  return E.right([
    describe(bb.right, spec.right),
    ...(r.right.unexpected.length > 0 ? [`warning: ${r.right.unexpected.length} checkpoint keys unused: ${firstFew(r.right.unexpected)}`] : []),
    `mask seed ${o.maskSeed}: ${visible} of ${mask.right.data.length} patches visible`,
    `loss ${(r.right.outputs.get('loss')?.data[0] ?? NaN).toPrecision(6)} (on the masked patches)`,
    `wrote ${m.out} (${picture.width}x${picture.height} PNG: masked input | reconstruction | original, backend ${o.backend})`,
  ])
}
