// The reconstruction picture `sparkts pretrain` writes every epoch: a fixed validation batch (the first
// images of the held-out split, evaluation transform) under a fixed SparK mask is run through the SparK
// graph in inference mode (BatchNorm on running statistics) with the current parameters, and each image
// becomes one row masked | reconstruction | original (src/spark/visualise.ts: masked patches show the
// prediction un-normalised with the original patch statistics). Panels are un-normalised with the data
// source's own mean/std (1-channel data shown as grey) and enlarged by pixel repetition so 32 px images
// stay visible. Pure except for the backend run.

import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../backends/backend.js'
import type { ImageSource } from '../data/source.js'
import { evalBatch } from '../data/pipeline.js'
import { encodePng } from '../image/codec.js'
import { sideBySide } from '../image/compose.js'
import type { FloatImage } from '../image/image.js'
import { toRgb8Image } from '../image/image.js'
import { formatError } from '../ir/errors.js'
import type { Graph } from '../ir/graph.js'
import type { HostTensor } from '../ir/types.js'
import type { Backbone } from '../models/backbone.js'
import { randomMask } from '../spark/mask.js'
import type { DensifyNorm } from '../spark/spark.js'
import { buildSpark } from '../spark/spark.js'
import { visualise } from '../spark/visualise.js'

/** The fixed validation batch, its mask and the inference-mode SparK graph for it. */
export interface ValidationSet {
  readonly input: HostTensor
  readonly mask: HostTensor
  readonly graph: Graph
  readonly patch: number
  readonly mean: ReadonlyArray<number>
  readonly std: ReadonlyArray<number>
}

/** What the validation set is built from. */
export interface ValidationOptions {
  readonly inputSize: number
  readonly decoderWidth: number
  readonly densifyNorm: DensifyNorm
  readonly maskRatio: number
  readonly count: number
  readonly maskSeed: number
}

/** The first `count` images of `src` with a fixed mask; Left when the source is empty or the graph fails. */
export const prepareValidation = (bb: Backbone, src: ImageSource, o: ValidationOptions): E.Either<string, ValidationSet> => {
  const b = evalBatch(src, o.inputSize, 0, o.count)
  if (E.isLeft(b)) return b
  const n = b.right.indices.length
  if (n === 0) return E.left(`${src.name}: no validation images`)
  const ds = bb.downsampleRatio
  const mask = randomMask({ batch: n, h: o.inputSize / ds, ratio: o.maskRatio, seed: o.maskSeed })
  if (E.isLeft(mask)) return E.left(mask.left.message)
  const m = buildSpark(bb, { decoderWidth: o.decoderWidth, densifyNorm: o.densifyNorm, training: false, inputSize: o.inputSize, batch: n })
  if (E.isLeft(m)) return E.left(formatError(m.left))
  return E.right({ input: b.right.input, mask: mask.right, graph: m.right.graph, patch: ds, mean: src.mean, std: src.std })
}

/** Sample b of a normalised (B,H,W,C) tensor as an RGB image in [0, 1], each pixel repeated `scale`×`scale`. */
export const toDisplay = (t: HostTensor, b: number, mean: ReadonlyArray<number>, std: ReadonlyArray<number>, scale: number): FloatImage => {
  const [, H = 0, W = 0, C = 1] = t.shape
  const width = W * scale
  const height = H * scale
  const data = new Float32Array(width * height * 3)
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let k = 0; k < 3; k++) {
        const c = C === 1 ? 0 : k
        const v = (t.data[((b * H + Math.floor(y / scale)) * W + Math.floor(x / scale)) * C + c] ?? 0) * (std[c] ?? 1) + (mean[c] ?? 0)
        data[(y * width + x) * 3 + k] = Math.min(1, Math.max(0, v))
      }
  return { width, height, data }
}

/** Images stacked top to bottom (equal widths), separated by `gap` white rows. */
export const stackRows = (rows: ReadonlyArray<FloatImage>, gap = 4): FloatImage => {
  const width = rows[0]?.width ?? 0
  const height = rows.reduce((s, r) => s + r.height, 0) + gap * Math.max(0, rows.length - 1)
  const data = new Float32Array(width * height * 3).fill(1)
  let y0 = 0
  for (const r of rows) {
    data.set(r.data, y0 * width * 3)
    y0 += r.height + gap
  }
  return { width, height, data }
}

/** Runs the validation batch with `params` and returns the PNG (one row per image: masked | reconstruction | original). */
export const renderValidation = async (backend: Backend, v: ValidationSet, params: ReadonlyMap<string, HostTensor>): Promise<E.Either<string, Uint8Array>> => {
  const exe = backend.compile(v.graph, { inputShapes: { input: v.input.shape, mask: v.mask.shape }, params })
  if (E.isLeft(exe)) return E.left(formatError(exe.left))
  let rec: HostTensor | undefined
  try {
    rec = (await exe.right.run(new Map([['input', v.input], ['mask', v.mask]]))).get('reconstruction')
  } finally {
    exe.right.dispose()
  }
  if (rec === undefined) return E.left('the SparK graph produced no reconstruction')
  const vis = visualise(v.input, v.mask, rec, v.patch)
  if (E.isLeft(vis)) return vis
  const [n = 0, H = 1] = v.input.shape
  const scale = Math.max(1, Math.floor(96 / H))
  const rows = Array.from({ length: n }, (_, b) =>
    sideBySide([vis.right.masked, vis.right.reconstruction, vis.right.original].map((t) => toDisplay(t, b, v.mean, v.std, scale))),
  )
  return E.right(encodePng(toRgb8Image(stackRows(rows))))
}
