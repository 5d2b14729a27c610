// SparK's visualisation (spec §5, `forward(..., vis=True)`), on host NHWC tensors in normalised space:
// the masked input is input·m (masked pixels become 0, the mean colour once un-normalised); the
// reconstruction is the decoder output mapped back from per-patch-normalised pixels with the ORIGINAL
// image's per-patch statistics, rec·std + mean (mean over the p·p·C values of a patch, std =
// sqrt(unbiased variance + 1e-6), exactly the loss's target normalisation inverted), shown in masked
// patches only, the input elsewhere. Display is then clamp(x·imagenet_std + imagenet_mean, 0, 1).

import * as E from 'fp-ts/lib/Either.js'
import type { HostTensor } from '../ir/types.js'
import { showShape } from '../ir/types.js'
import { expandMask } from './mask.js'

/** Per-patch statistics of a (B, H, W, C) tensor: (B·h·w) means and stds, patch index b·h·w + row·w + col. */
export interface PatchStats {
  readonly mean: Float64Array
  readonly std: Float64Array
}

/** The loss's eps under the square root of the per-patch variance. */
export const PATCH_STD_EPS = 1e-6

const dims = (t: HostTensor): readonly [number, number, number, number] => [t.shape[0] ?? 0, t.shape[1] ?? 0, t.shape[2] ?? 0, t.shape[3] ?? 0]

/** Mean and sqrt(unbiased var + 1e-6) of every p×p patch (over p·p·C values), in float64. */
export const patchStats = (x: HostTensor, p: number): PatchStats => {
  const [B, H, W, C] = dims(x)
  const [h, w] = [H / p, W / p]
  const n = p * p * C
  const mean = new Float64Array(B * h * w)
  const std = new Float64Array(B * h * w)
  for (let b = 0; b < B; b++)
    for (let r = 0; r < h; r++)
      for (let c = 0; c < w; c++) {
        let s = 0
        for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) for (let k = 0; k < C; k++) s += x.data[((b * H + r * p + i) * W + c * p + j) * C + k] ?? 0
        const m = s / n
        let ss = 0
        for (let i = 0; i < p; i++)
          for (let j = 0; j < p; j++)
            for (let k = 0; k < C; k++) {
              const d = (x.data[((b * H + r * p + i) * W + c * p + j) * C + k] ?? 0) - m
              ss += d * d
            }
        const idx = (b * h + r) * w + c
        mean[idx] = m
        std[idx] = Math.sqrt(ss / (n - 1) + PATCH_STD_EPS)
      }
  return { mean, std }
}

/** rec·std + mean per patch, with the statistics of `stats` (the original image's). */
export const unnormalisePatches = (rec: HostTensor, stats: PatchStats, p: number): HostTensor => {
  const [B, H, W, C] = dims(rec)
  const [h, w] = [H / p, W / p]
  const out = new Float32Array(rec.data.length)
  for (let b = 0; b < B; b++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const idx = (b * h + Math.floor(y / p)) * w + Math.floor(x / p)
        for (let k = 0; k < C; k++) {
          const q = ((b * H + y) * W + x) * C + k
          out[q] = (rec.data[q] ?? 0) * (stats.std[idx] ?? 1) + (stats.mean[idx] ?? 0)
        }
      }
  return { shape: [...rec.shape], data: out }
}

/** The three panels, in normalised space, NHWC. */
export interface Visualisation {
  /** input·m: masked pixels are 0. */
  readonly masked: HostTensor
  /** Visible patches from the input, masked ones the un-normalised prediction. */
  readonly reconstruction: HostTensor
  readonly original: HostTensor
}

/**
 * SparK's visualisation of `input` (B,H,W,C normalised), `mask` (B,h,w,1, 1 = visible) and the raw
 * decoder output `rec` (B,H,W,C), patch size p = H/h; Left on inconsistent shapes.
 */
export const visualise = (input: HostTensor, mask: HostTensor, rec: HostTensor, p: number): E.Either<string, Visualisation> => {
  const [B, H, W, C] = dims(input)
  if (input.shape.length !== 4 || rec.shape.length !== 4 || !input.shape.every((d, i) => d === rec.shape[i])) return E.left(`visualise: input ${showShape(input.shape)} and reconstruction ${showShape(rec.shape)} must have one (B,H,W,C) shape`)
  if (mask.shape.length !== 4 || mask.shape[0] !== B || (mask.shape[1] ?? 0) * p !== H || (mask.shape[2] ?? 0) * p !== W || mask.shape[3] !== 1)
    return E.left(`visualise: mask ${showShape(mask.shape)} is not (${B}, ${H / p}, ${W / p}, 1) for input ${showShape(input.shape)} and patch ${p}`)
  const m = expandMask(mask, H, W)
  if (E.isLeft(m)) return E.left(m.left.message)
  const un = unnormalisePatches(rec, patchStats(input, p), p)
  const masked = new Float32Array(input.data.length)
  const shown = new Float32Array(input.data.length)
  for (let q = 0; q < input.data.length; q++) {
    const visible = (m.right.data[Math.floor(q / C)] ?? 0) === 1
    masked[q] = visible ? (input.data[q] ?? 0) : 0
    shown[q] = visible ? (input.data[q] ?? 0) : (un.data[q] ?? 0)
  }
  return E.right({ masked: { shape: [...input.shape], data: masked }, reconstruction: { shape: [...input.shape], data: shown }, original: input })
}
