// SparK's reconstruction loss in plain float64 loops (spec §5), the oracle for the tfjs lowering.
// Per patch (b, i, j) of size (H/h)×(W/w)×C: target = (x − mean) / sqrt(unbiased var + eps) of the
// ORIGINAL image; l2 = mean over the patch of (rec − target)²; the loss averages l2 over MASKED patches
// (mask 0) of the whole batch: Σ l2·(1−m) / (Σ (1−m) + 1e-8). Visible patches do not enter the loss.

import type { F64Tensor } from './tensor.js'

/** Per-patch statistics and the loss; `rec`, `img` (B,H,W,C), `mask` (B,h,w,1) with 1 = visible. */
export const maskedPatchLoss = (rec: F64Tensor, img: F64Tensor, mask: F64Tensor, eps: number): number => {
  const [B = 0, H = 0, W = 0, C = 0] = img.shape
  const [, h = 1, w = 1] = mask.shape
  const ph = H / h
  const pw = W / w
  const n = ph * pw * C
  const at = (b: number, y: number, x: number, c: number): number => ((b * H + y) * W + x) * C + c
  let num = 0
  let den = 0
  for (let b = 0; b < B; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        const weight = 1 - (mask.data[(b * h + i) * w + j] ?? 0)
        let s = 0
        for (let r = 0; r < ph; r++) for (let q = 0; q < pw; q++) for (let c = 0; c < C; c++) s += img.data[at(b, i * ph + r, j * pw + q, c)] ?? 0
        const mean = s / n
        let ss = 0
        for (let r = 0; r < ph; r++) for (let q = 0; q < pw; q++) for (let c = 0; c < C; c++) ss += ((img.data[at(b, i * ph + r, j * pw + q, c)] ?? 0) - mean) ** 2
        const std = Math.sqrt(ss / (n - 1) + eps)
        let l2 = 0
        for (let r = 0; r < ph; r++)
          for (let q = 0; q < pw; q++)
            for (let c = 0; c < C; c++) {
              const k = at(b, i * ph + r, j * pw + q, c)
              l2 += ((rec.data[k] ?? 0) - ((img.data[k] ?? 0) - mean) / std) ** 2
            }
        num += (l2 / n) * weight
        den += weight
      }
  return num / (den + 1e-8)
}
