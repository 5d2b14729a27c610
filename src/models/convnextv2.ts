// ConvNeXt-V2 (official dense `convnextv2.py`) as a Backbone: the v1 block without layer scale and with a
// GRN(4C) between GELU and pwconv2. Shares the block/stage builder of convnext.ts; only configs differ.

import type { Backbone } from './backbone.js'
import type { ConvNeXtConfig } from './convnext.js'
import { convnextLike } from './convnext.js'

/** Official ConvNeXt-V2 configurations. */
export const convnextv2Configs = {
  convnextv2_atto: { depths: [2, 2, 6, 2], dims: [40, 80, 160, 320] },
  convnextv2_femto: { depths: [2, 2, 6, 2], dims: [48, 96, 192, 384] },
  convnextv2_pico: { depths: [2, 2, 6, 2], dims: [64, 128, 256, 512] },
  convnextv2_nano: { depths: [2, 2, 8, 2], dims: [80, 160, 320, 640] },
  convnextv2_tiny: { depths: [3, 3, 9, 3], dims: [96, 192, 384, 768] },
  convnextv2_base: { depths: [3, 3, 27, 3], dims: [128, 256, 512, 1024] },
  convnextv2_large: { depths: [3, 3, 27, 3], dims: [192, 384, 768, 1536] },
  convnextv2_huge: { depths: [3, 3, 27, 3], dims: [352, 704, 1408, 2816] },
} as const satisfies Readonly<Record<string, ConvNeXtConfig>>

/** ConvNeXt-V2 backbone (GRN, no layer scale). */
export const convnextv2 = (name: string, cfg: ConvNeXtConfig, o: { readonly dropPath?: number } = {}): Backbone =>
  convnextLike(name, 'convnextv2', cfg, { grn: true }, o)
