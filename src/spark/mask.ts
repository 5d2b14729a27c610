// SparK masks on the host, as (B, h, w, 1) float32 tensors, 1 = visible (active), 0 = masked, at the
// coarsest feature grid (h = H/downsampleRatio, w = W/downsampleRatio). `randomMask` reproduces SparK's
// generator (spec §1): per sample, L = h·w cells, len_keep = round(L·(1 − ratio)) with Python's round
// (half to even), L uniform randoms, the len_keep smallest cells kept (argsort ascending). `userMask`
// validates an explicit mask, `expandMask` block-upsamples one to any multiple of its grid (the host-side
// twin of the `maskLike` op, for tests and visualisation). Pure functions; bad input is a Left.

import * as E from 'fp-ts/lib/Either.js'
import type { HostTensor } from '../ir/types.js'
import { showShape, sizeOf } from '../ir/types.js'
import { makeRng } from '../util/rng.js'
import { roundHalfEven } from '../util/round.js'

/** Why a mask could not be made. */
export interface MaskError {
  readonly _tag: 'BadMask'
  readonly message: string
}

const bad = (message: string): E.Either<MaskError, never> => E.left({ _tag: 'BadMask', message })

const posInt = (v: number): boolean => Number.isInteger(v) && v >= 1

export { roundHalfEven }

/** Visible cells per sample: round(L · (1 − ratio)) (SparK `len_keep`). */
export const keepCount = (cells: number, ratio: number): number => roundHalfEven(cells * (1 - ratio))

/** Options of `randomMask`. */
export interface RandomMaskOptions {
  readonly batch: number
  /** Grid height (input height / downsample ratio). */
  readonly h: number
  /** Grid width; defaults to h. */
  readonly w?: number
  /** Fraction of cells to mask, in [0, 1]. */
  readonly ratio: number
  readonly seed: number
}

/** A random SparK mask (B, h, w, 1); every sample has exactly keepCount(h·w, ratio) visible cells. */
export const randomMask = (o: RandomMaskOptions): E.Either<MaskError, HostTensor> => {
  const w = o.w ?? o.h
  if (!posInt(o.batch) || !posInt(o.h) || !posInt(w)) return bad(`batch ${o.batch} and grid ${o.h}x${w} must be positive integers`)
  if (!(o.ratio >= 0 && o.ratio <= 1)) return bad(`mask ratio ${o.ratio} must be in [0, 1]`)
  const L = o.h * w
  const keep = keepCount(L, o.ratio)
  const r = makeRng(o.seed)
  const data = new Float32Array(o.batch * L)
  for (let b = 0; b < o.batch; b++) {
    const noise = Array.from({ length: L }, () => r.uniform())
    const order = Array.from({ length: L }, (_, i) => i).sort((i, j) => (noise[i] ?? 0) - (noise[j] ?? 0) || i - j)
    for (const k of order.slice(0, keep)) data[b * L + k] = 1
  }
  return E.right({ shape: [o.batch, o.h, w, 1], data })
}

/** Validates an explicit mask: shape (B, h, w, 1) and every value 0 or 1. */
export const userMask = (shape: ReadonlyArray<number>, data: ArrayLike<number>): E.Either<MaskError, HostTensor> => {
  if (shape.length !== 4 || !shape.every(posInt) || shape[3] !== 1) return bad(`mask shape ${showShape(shape)} must be (B, h, w, 1) with positive sizes`)
  if (data.length !== sizeOf(shape)) return bad(`mask shape ${showShape(shape)} needs ${sizeOf(shape)} values, got ${data.length}`)
  for (let i = 0; i < data.length; i++) {
    const v = data[i]
    if (v !== 0 && v !== 1) return bad(`mask value ${v} at flat index ${i} is not 0 or 1`)
  }
  return E.right({ shape: [...shape], data: Float32Array.from(data) })
}

/** Block (nearest) upsampling of a (B, h, w, 1) mask to (B, H, W, 1); H/h and W/w must be integers. */
export const expandMask = (mask: HostTensor, H: number, W: number): E.Either<MaskError, HostTensor> => {
  const [B, h, w, one] = mask.shape
  if (mask.shape.length !== 4 || one !== 1 || B === undefined || h === undefined || w === undefined) return bad(`mask shape ${showShape(mask.shape)} must be (B, h, w, 1)`)
  if (!posInt(H) || !posInt(W) || H % h !== 0 || W % w !== 0) return bad(`size ${H}x${W} is not an integer multiple of the mask grid ${h}x${w}`)
  const [rh, rw] = [H / h, W / w]
  const data = new Float32Array(B * H * W)
  for (let b = 0; b < B; b++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++) data[(b * H + i) * W + j] = mask.data[(b * h + Math.floor(i / rh)) * w + Math.floor(j / rw)] ?? 0
  return E.right({ shape: [B, H, W, 1], data })
}
