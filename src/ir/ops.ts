// The op set of the sparkts IR: one params interface keyed by op kind is the single source of truth.
// Every rule table (shape inference, reference kernels, tfjs lowering, printing) is a mapped type over
// `OpKind`, so adding an op here fails to compile until every table handles it (jax-js `PrimitiveParamsImpl`).
// The order of each op's inputs is documented once, here, next to its params.

import type { Shape } from './types.js'

/** A (height, width) pair. */
export type Pair = readonly [number, number]

/** Explicit padding: [[top, bottom], [left, right]]. */
export type Padding = readonly [Pair, Pair]

/** How a parameter is initialised when no checkpoint provides it (PyTorch semantics). */
export type Init =
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' }
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'normal'; readonly std: number }
  | { readonly kind: 'truncNormal'; readonly std: number; readonly a: number; readonly b: number }
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number }

type None = Readonly<Record<string, never>>

/** Params of every op kind. Inputs are listed in the doc comment of each entry. */
export interface OpParams {
  /** Graph input (no inputs). `shape` may contain null (batch, spatial). */
  input: { readonly name: string; readonly shape: Shape }
  /** Named parameter (no inputs); `name` is the PyTorch state_dict key, `shape` is in sparkts layout. */
  param: { readonly name: string; readonly shape: ReadonlyArray<number>; readonly trainable: boolean; readonly init: Init }
  /** [x NHWC, w (kh,kw,cin/groups,cout), bias? (cout)]. */
  conv2d: { readonly strides: Pair; readonly padding: Padding; readonly dilations: Pair; readonly groups: number }
  /** [x NHWC, w (kh,kw,cout,cin), bias? (cout)]; PyTorch ConvTranspose2d semantics (padding crops). */
  conv2dTranspose: { readonly strides: Pair; readonly padding: Pair; readonly outputPadding: Pair }
  /** [x NHWC, gamma, beta, runningMean, runningVar] (all (C)); training uses biased batch statistics. */
  batchNorm: { readonly eps: number; readonly momentum: number; readonly training: boolean }
  /** [x, gamma, beta]: normalise over the last (channel) axis, biased variance. */
  layerNorm: { readonly eps: number }
  /** [x NHWC, gamma, beta]: per sample, statistics over (channels of a group × H × W). */
  groupNorm: { readonly groups: number; readonly eps: number }
  /** [x NHWC, gamma (C), beta (C)]: ConvNeXt-V2 global response normalisation. */
  grn: { readonly eps: number }
  /** [x (..., in), w (in, out), bias? (out)]: applied at every position of the last axis. */
  linear: None
  /** [x] */
  relu: None
  /** [x] */
  relu6: None
  /** [x]; exact erf form. */
  gelu: None
  /** [x] */
  silu: None
  /** [x] */
  sigmoid: None
  /** [a, b] with numpy broadcasting. */
  add: None
  /** [a, b] with numpy broadcasting. */
  mul: None
  /** [x NHWC]; padding counts as -inf. */
  maxPool: { readonly window: Pair; readonly strides: Pair; readonly padding: Padding }
  /** [x NHWC]; `countIncludePad` as PyTorch (true: divisor is the window size). */
  avgPool: { readonly window: Pair; readonly strides: Pair; readonly padding: Padding; readonly countIncludePad: boolean }
  /** [x NHWC] → (B, C). */
  globalAvgPool: None
  /** [...xs] along `axis`. */
  concat: { readonly axis: number }
  /** [x] → (batch, ...shape); one entry may be -1. The batch dimension is always kept. */
  reshape: { readonly shape: ReadonlyArray<number> }
  /** [x] with a full permutation. */
  transpose: { readonly perm: ReadonlyArray<number> }
  /** [x]: stochastic depth per sample; identity at inference. */
  dropPath: { readonly rate: number; readonly training: boolean }
  // ---- SparK mask ops. `m` is a mask at x's resolution, (B,H,W,1), 1 = active (visible), 0 = masked;
  // statistics are weighted by m (Σ(x·m)/Σm), which for a 0/1 mask is the statistic of the active set.
  /** [mask (B,h,w,1), x (B,H,W,C)] → (B,H,W,1): nearest block upsampling of the mask by H/h × W/w (integers); x only gives the size. */
  maskLike: None
  /** [x NHWC, m (B,H,W,1), gamma, beta, runningMean, runningVar]: batchNorm with statistics over the active positions of
   *  all samples (training: mean and biased var; inference: running stats); the output is 0 at masked positions. */
  maskedBatchNorm: { readonly eps: number; readonly momentum: number; readonly training: boolean }
  /** [x NHWC, m (B,H,W,1), gamma, beta]: per sample and group, statistics over (channels of the group × active positions); 0 at masked. */
  maskedGroupNorm: { readonly groups: number; readonly eps: number }
  /** [x NHWC, m (B,H,W,1)] → (B, C): the mean over active positions (0 for a sample without any). */
  maskedGlobalAvgPool: None
  /** [x NHWC, m (B,H,W,1), fill (C)] → m·x + (1 − m)·fill: where(m, x, fill) (SparK densify's mask token). */
  maskFill: None
  /** [rec (B,H,W,C), image (B,H,W,C), mask (B,h,w,1)] → scalar: SparK's loss, the mean over MASKED patches (mask 0) of
   *  the per-patch MSE between rec and the patch-normalised image ((x − mean) / sqrt(unbiased var + eps)). */
  maskedPatchLoss: { readonly eps: number }
}

/** Every op kind. */
export type OpKind = keyof OpParams

/** Inputs each op takes: exact count, or [min, max] (max = Infinity for variadic). */
export const arity: { readonly [K in OpKind]: number | readonly [number, number] } = {
  input: 0,
  param: 0,
  conv2d: [2, 3],
  conv2dTranspose: [2, 3],
  batchNorm: 5,
  layerNorm: 3,
  groupNorm: 3,
  grn: 3,
  linear: [2, 3],
  relu: 1,
  relu6: 1,
  gelu: 1,
  silu: 1,
  sigmoid: 1,
  add: 2,
  mul: 2,
  maxPool: 1,
  avgPool: 1,
  globalAvgPool: 1,
  concat: [1, Infinity],
  reshape: 1,
  transpose: 1,
  dropPath: 1,
  maskLike: 2,
  maskedBatchNorm: 6,
  maskedGroupNorm: 4,
  maskedGlobalAvgPool: 2,
  maskFill: 3,
  maskedPatchLoss: 3,
}

/** All op kinds, in table order (for tests that must cover every op). */
export const opKinds = Object.keys(arity) as ReadonlyArray<OpKind>
