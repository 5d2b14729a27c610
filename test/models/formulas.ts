// Closed-form trainable-parameter counts of the zoo families, written from the architectures (not by
// calling the builders), so the model tests compare two independent derivations.

import type { ResNetConfig } from '../../src/models/resnet.js'
import type { ConvNeXtConfig } from '../../src/models/convnext.js'

// Closed-form trainable-parameter count of a timm ResNet without `fc`, written from the architecture
// (not from the builder): stem conv 7·7·3·s + BN 2s; per layer with width p, depth d, input c:
//   basic      first 9cp + 9p² + 4p (+ cp + 2p shortcut if c≠p or strided), rest (d−1)(18p² + 4p)
//   bottleneck first cp + 13p² + 12p (+ 4cp + 8p shortcut if c≠4p or strided), rest (d−1)(17p² + 12p)
/** Trainable parameters of a timm ResNet without `fc`. */
export const resnetFormula = (cfg: ResNetConfig): number => {
  const s = cfg.stemWidth ?? 64
  const widths = cfg.widths ?? [64, 128, 256, 512]
  const exp = cfg.block === 'basic' ? 1 : 4
  let n = 147 * s + 2 * s
  widths.forEach((p, i) => {
    const d = cfg.depths[i] ?? 0
    const c = i === 0 ? s : (widths[i - 1] ?? 0) * exp
    if (cfg.block === 'basic') n += 9 * c * p + 9 * p * p + 4 * p + (c !== p || i > 0 ? c * p + 2 * p : 0) + (d - 1) * (18 * p * p + 4 * p)
    else n += c * p + 13 * p * p + 12 * p + (c !== 4 * p || i > 0 ? 4 * c * p + 8 * p : 0) + (d - 1) * (17 * p * p + 12 * p)
  })
  return n
}

// Closed-form trainable-parameter count written from the architecture (not from the builder):
//   stem 4·4·3·C0 + C0 (conv) + 2C0 (LN); downsample i: 2C_{i−1} (LN) + 4C_{i−1}C_i + C_i (conv 2×2);
//   block: dwconv 49C + C, LN 2C, pwconv1 4C² + 4C, pwconv2 4C² + C, then v1 γ C (= 8C² + 58C) or
//   v2 GRN 2·4C (= 8C² + 65C); head (K classes): LN 2C3 + C3·K + K.
/** Trainable parameters of a ConvNeXt v1/v2 with a `classes`-way head (0 = none). */
export const convnextFormula = (cfg: ConvNeXtConfig, v: 1 | 2, classes: number): number => {
  const [c0] = cfg.dims
  let n = 51 * c0
  cfg.dims.forEach((c, i) => {
    const prev = cfg.dims[i - 1]
    if (prev !== undefined) n += 2 * prev + 4 * prev * c + c
    n += (cfg.depths[i] ?? 0) * (8 * c * c + (v === 1 ? 58 : 65) * c)
  })
  const c3 = cfg.dims[3]
  return n + (classes > 0 ? 2 * c3 + c3 * classes + classes : 0)
}
