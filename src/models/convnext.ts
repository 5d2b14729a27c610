// ConvNeXt v1 (the official definition SparK copies) as a Backbone, plus the block/stage builder that
// ConvNeXt-V2 reuses. NHWC makes the official channels_first/channels_last LayerNorms the same op (over
// the last axis) and pwconv1/pwconv2 plain per-position Linears, so no permutes appear in the graph.
// Parameter names are the official state_dict keys; inits: trunc-normal(.02) convs/linears, bias 0.

import { pipe } from 'fp-ts/lib/function.js'
import type { Value } from '../ir/builder.js'
import type { Backbone } from './backbone.js'
import { conv2d, dropPath, gelu, globalAvgPool, grn, layerNorm, linear, scale } from './layers.js'
import type { Four } from './blocks.js'
import { dropPathRates, residual, truncNormal02, zeros } from './blocks.js'

/** Depths and widths of a ConvNeXt (v1 or v2). */
export interface ConvNeXtConfig {
  readonly depths: Four<number>
  readonly dims: Four<number>
}

/** What distinguishes v1 from v2 blocks. */
export interface ConvNeXtBlockKind {
  /** Layer-scale init (v1: 1e-6, param `<block>.gamma`); omitted = no layer scale (v2). */
  readonly layerScale?: number
  /** GRN after GELU (v2, params `<block>.grn.gamma|beta`). */
  readonly grn: boolean
}

const identity = (x: Value): Value => x
const init = { init: truncNormal02, biasInit: zeros } as const

/** One ConvNeXt block at module path `p`: dwconv 7×7 → LN → pwconv1 (4C) → GELU → [GRN] → pwconv2 → [γ] → drop path → + x. */
export const convnextBlock = (p: string, kind: ConvNeXtBlockKind, rate: number) => (x: Value): Value => {
  const c = x.type.shape[3]
  if (typeof c !== 'number') return x.builder.fail({ _tag: 'Invariant', pass: 'build', message: `convnext block '${p}': channel count of its input is unknown` })
  const branch = pipe(
    x,
    conv2d(`${p}.dwconv`, { out: c, kernel: 7, padding: 3, groups: c, ...init }),
    layerNorm(`${p}.norm`, { eps: 1e-6 }),
    linear(`${p}.pwconv1`, 4 * c, init),
    gelu,
    kind.grn ? grn(`${p}.grn`, { eps: 1e-6 }) : identity,
    linear(`${p}.pwconv2`, c, init),
    kind.layerScale === undefined ? identity : scale(`${p}.gamma`, kind.layerScale),
    dropPath(rate),
  )
  return residual(p)(branch, x)
}

/** Stem (`downsample_layers.0`: conv 4×4/4 + LN) or downsample i (`downsample_layers.i`: LN + conv 2×2/2). */
export const convnextDownsample = (i: number, out: number) => (x: Value): Value =>
  i === 0
    ? pipe(x, conv2d('downsample_layers.0.0', { out, kernel: 4, stride: 4, padding: 0, ...init }), layerNorm('downsample_layers.0.1', { eps: 1e-6 }))
    : pipe(x, layerNorm(`downsample_layers.${i}.0`, { eps: 1e-6 }), conv2d(`downsample_layers.${i}.1`, { out, kernel: 2, stride: 2, padding: 0, ...init }))

/** A ConvNeXt-shaped backbone (v1 or v2): features = outputs of the 4 stages; head = GAP → `norm` → `head`. */
export const convnextLike = (
  name: string,
  family: 'convnext' | 'convnextv2',
  cfg: ConvNeXtConfig,
  kind: ConvNeXtBlockKind,
  o: { readonly dropPath?: number } = {},
): Backbone => {
  const rates = dropPathRates(o.dropPath ?? 0, cfg.depths.reduce((a, b) => a + b, 0))
  const features = (x: Value): ReadonlyArray<Value> => {
    const feats: Value[] = []
    let y = x
    let idx = 0
    for (const [s, dim] of cfg.dims.entries()) {
      y = convnextDownsample(s, dim)(y)
      for (let bi = 0; bi < (cfg.depths[s] ?? 0); bi++) y = convnextBlock(`stages.${s}.${bi}`, kind, rates[idx++] ?? 0)(y)
      feats.push(y)
    }
    return feats
  }
  return {
    name,
    family,
    downsampleRatio: 32,
    featureChannels: [...cfg.dims],
    inChannels: 3,
    features,
    head: (last, numClasses) => pipe(last, globalAvgPool, layerNorm('norm', { eps: 1e-6 }), linear('head', numClasses, init)),
  }
}

/** Official ConvNeXt v1 configurations (SparK pretrains small/base/large). */
export const convnextConfigs = {
  convnext_tiny: { depths: [3, 3, 9, 3], dims: [96, 192, 384, 768] },
  convnext_small: { depths: [3, 3, 27, 3], dims: [96, 192, 384, 768] },
  convnext_base: { depths: [3, 3, 27, 3], dims: [128, 256, 512, 1024] },
  convnext_large: { depths: [3, 3, 27, 3], dims: [192, 384, 768, 1536] },
} as const satisfies Readonly<Record<string, ConvNeXtConfig>>

/** ConvNeXt v1 backbone (layer scale 1e-6, no GRN). */
export const convnext = (name: string, cfg: ConvNeXtConfig, o: { readonly dropPath?: number } = {}): Backbone =>
  convnextLike(name, 'convnext', cfg, { layerScale: 1e-6, grn: false }, o)
