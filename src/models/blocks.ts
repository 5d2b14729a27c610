// Small pieces shared by the zoo families (resnet.ts, convnext.ts, convnextv2.ts): the initialisations
// timm / the official repos apply after construction, the linear drop-path schedule, and a residual add
// that carries the block's module path so errors and printed graphs name the block.

import type { Value } from '../ir/builder.js'
import type { Init } from '../ir/ops.js'

/** Zero init (biases, zero-init-last-BN gammas). */
export const zeros: Init = { kind: 'zeros' }

/** timm `trunc_normal_(w, std=.02)`: the bounds a=-2, b=2 are absolute, i.e. 100 std (practically untruncated). */
export const truncNormal02: Init = { kind: 'truncNormal', std: 0.02, a: -2, b: 2 }

/** `kaiming_normal_(w, mode='fan_out', nonlinearity='relu')` of a conv weight: std = sqrt(2 / (cout·kh·kw)). */
export const kaimingNormalFanOut = (cout: number, kh: number, kw: number = kh): Init => ({ kind: 'normal', std: Math.sqrt(2 / (cout * kh * kw)) })

/** Drop-path rate of each of `n` blocks growing linearly from 0 to `rate` (torch.linspace(0, rate, n)). */
export const dropPathRates = (rate: number, n: number): ReadonlyArray<number> =>
  Array.from({ length: n }, (_, i) => (n <= 1 ? 0 : (rate * i) / (n - 1)))

/** `branch + shortcut`, recorded under the block's module path (e.g. `layer1.0`). */
export const residual = (name: string) => (branch: Value, shortcut: Value): Value => branch.builder.node('add', [branch, shortcut], {}, name)

/** Four stage values, as every zoo family has. */
export type Four<T> = readonly [T, T, T, T]
