// SparK's reconstruction loss on tfjs (spec §5), differentiable w.r.t. the reconstruction. The patches
// are an axis split, not a copy: (B,H,W,C) → (B,h,ph,w,pw,C), statistics over axes 2, 4, 5. Target
// normalisation uses the unbiased variance + eps inside the sqrt; only masked patches (mask 0) count.

import { tf } from './tf.js'

/** Σ_masked l2 / (#masked + 1e-8) for rec, img (B,H,W,C) and mask (B,h,w,1), 1 = visible. */
export const maskedPatchLoss = (rec: tf.Tensor, img: tf.Tensor, mask: tf.Tensor, eps: number): tf.Scalar =>
  tf.tidy(() => {
    const [B = 0, H = 0, W = 0, C = 0] = img.shape
    const [, h = 1, w = 1] = mask.shape
    const split = [B, h, H / h, w, W / w, C]
    const n = (H / h) * (W / w) * C
    const x = tf.reshape(img, split)
    const mean = tf.mean(x, [2, 4, 5], true)
    const centred = tf.sub(x, mean)
    const std = tf.sqrt(tf.add(tf.div(tf.sum(tf.square(centred), [2, 4, 5], true), n - 1), eps))
    const target = tf.div(centred, std)
    const l2 = tf.reshape(tf.mean(tf.squaredDifference(tf.reshape(rec, split), target), [2, 4, 5]), [B, h, w, 1])
    const weight = tf.sub(1, mask)
    return tf.div(tf.sum(tf.mul(l2, weight)), tf.add(tf.sum(weight), 1e-8)) as tf.Scalar
  })
