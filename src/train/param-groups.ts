// SparK's weight-decay split (pretrain/utils/lr_control.py get_param_groups): every trainable tensor of the
// whole SparK model (encoder, densify norms/projections, mask tokens, decoder) goes to `no_decay` when it is
// 1-D, its name ends with `.bias`, or its name contains one of the no-decay keys as a substring (so the
// 4-D `mask_tokens.i` and ConvNeXt `gamma` land there); everything else (conv, linear, conv-transpose
// weights) decays. Groups carry SparK's scales; `groupsAt` turns them into the per-iteration hyper the
// optimisers take (lr = lr_t·lr_scale, weight_decay = wd_t·weight_decay_scale).

import type { StepGroup } from './optimizer.js'

/** SparK's default substrings that exempt a tensor from weight decay. */
export const sparkNoDecayKeys: ReadonlyArray<string> = ['cls_token', 'pos_embed', 'mask_token', 'gamma']

/** What the grouping needs to know about a parameter (structurally a `param` node's params). */
export interface ParamInfo {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  /** Non-trainable tensors (BN running statistics) are left out of every group. */
  readonly trainable?: boolean
}

/** A fixed parameter group with SparK's scales. */
export interface ParamGroupSpec {
  readonly group: 'decay' | 'no_decay'
  readonly names: ReadonlyArray<string>
  readonly lrScale: number
  readonly weightDecayScale: number
}

/** True when SparK exempts the tensor from weight decay (rank 1, `.bias` suffix, or a key substring). */
export const isNoDecay = (name: string, shape: ReadonlyArray<number>, keys: ReadonlyArray<string> = sparkNoDecayKeys): boolean =>
  shape.length === 1 || name.endsWith('.bias') || keys.some((k) => name.includes(k))

/** SparK's two groups over the trainable parameters, in the given order: decay (scale 1), no_decay (scale 0). */
export const sparkParamGroups = (
  params: Iterable<ParamInfo>,
  keys: ReadonlyArray<string> = sparkNoDecayKeys,
): readonly [ParamGroupSpec, ParamGroupSpec] => {
  const decay: string[] = []
  const noDecay: string[] = []
  for (const p of params) {
    if (p.trainable === false) continue
    ;(isNoDecay(p.name, p.shape, keys) ? noDecay : decay).push(p.name)
  }
  return [
    { group: 'decay', names: decay, lrScale: 1, weightDecayScale: 1 },
    { group: 'no_decay', names: noDecay, lrScale: 1, weightDecayScale: 0 },
  ]
}

/** Per-iteration hyper of every group: lr = lr_t·lrScale, weightDecay = wd_t·weightDecayScale. */
export const groupsAt = (specs: ReadonlyArray<ParamGroupSpec>, lr: number, weightDecay: number): ReadonlyArray<StepGroup> =>
  specs.map((s) => ({ names: s.names, lr: lr * s.lrScale, weightDecay: weightDecay * s.weightDecayScale }))
