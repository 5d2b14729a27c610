// Layer helpers: curried `Value → Value` functions that create named parameters (PyTorch state_dict
// keys, sparkts layouts: conv HWIO, transposed conv (kh,kw,out,in), linear (in,out)) and one IR node.
// Default initialisations follow PyTorch's layer defaults; model files override them as timm/official
// code does. Use with fp-ts `pipe`: `pipe(x, conv2d('conv1', { out: 64, kernel: 7, stride: 2 }), relu)`.

import type { GraphBuilder, Value } from '../ir/builder.js'
import { channelsOf } from '../ir/builder.js'
import type { Init, Padding, Pair } from '../ir/ops.js'

/** A size given as one number or a (height, width) pair. */
export type Size = number | Pair

const pair = (s: Size): Pair => (typeof s === 'number' ? [s, s] : s)

/** PyTorch's default init for conv/linear weights and biases: U(±1/sqrt(fanIn)). */
export const torchDefaultInit = (fanIn: number): Init => ({ kind: 'uniform', low: -1 / Math.sqrt(fanIn), high: 1 / Math.sqrt(fanIn) })

/** Options of conv2d. */
export interface Conv2dOptions {
  readonly out: number
  readonly kernel: Size
  readonly stride?: Size
  /** Symmetric padding per axis, a (h, w) pair, or explicit [[top,bottom],[left,right]]. Default: dilation·(k−1)/2 rounded down. */
  readonly padding?: Size | Padding
  readonly dilation?: Size
  readonly groups?: number
  readonly bias?: boolean
  readonly init?: Init
  readonly biasInit?: Init
}

const toPadding = (p: Size | Padding): Padding =>
  typeof p === 'number' ? [[p, p], [p, p]] : typeof p[0] === 'number' ? [[p[0], p[0]], [p[1] as number, p[1] as number]] : (p as Padding)

/** 2-D convolution (PyTorch Conv2d semantics, NHWC). */
export const conv2d = (name: string, o: Conv2dOptions) => (x: Value): Value => {
  const b = x.builder
  const cin = channelsOf(x, `conv2d '${name}'`)
  if (cin === undefined) return b.fail(b.error!)
  const [kh, kw] = pair(o.kernel)
  const [dh, dw] = pair(o.dilation ?? 1)
  const groups = o.groups ?? 1
  const fanIn = (cin / groups) * kh * kw
  const w = b.param(`${name}.weight`, [kh, kw, Math.max(1, Math.floor(cin / groups)), o.out], o.init ?? torchDefaultInit(fanIn))
  const ins = o.bias ?? true ? [x, w, b.param(`${name}.bias`, [o.out], o.biasInit ?? torchDefaultInit(fanIn))] : [x, w]
  const padding = toPadding(o.padding ?? [Math.floor((dh * (kh - 1)) / 2), Math.floor((dw * (kw - 1)) / 2)])
  return b.node('conv2d', ins, { strides: pair(o.stride ?? 1), padding, dilations: [dh, dw], groups }, name)
}

/** Options of convTranspose2d. */
export interface ConvTranspose2dOptions {
  readonly out: number
  readonly kernel: Size
  readonly stride?: Size
  readonly padding?: Size
  readonly outputPadding?: Size
  readonly bias?: boolean
  readonly init?: Init
  readonly biasInit?: Init
}

/** Transposed convolution (PyTorch ConvTranspose2d semantics, NHWC). */
export const convTranspose2d = (name: string, o: ConvTranspose2dOptions) => (x: Value): Value => {
  const b = x.builder
  const cin = channelsOf(x, `convTranspose2d '${name}'`)
  if (cin === undefined) return b.fail(b.error!)
  const [kh, kw] = pair(o.kernel)
  // PyTorch computes fan_in of a ConvTranspose2d weight (in, out, kh, kw) from dim 1: out·kh·kw.
  const fanIn = o.out * kh * kw
  const w = b.param(`${name}.weight`, [kh, kw, o.out, cin], o.init ?? torchDefaultInit(fanIn))
  const ins = o.bias ?? true ? [x, w, b.param(`${name}.bias`, [o.out], o.biasInit ?? torchDefaultInit(fanIn))] : [x, w]
  return b.node('conv2dTranspose', ins, { strides: pair(o.stride ?? 1), padding: pair(o.padding ?? 0), outputPadding: pair(o.outputPadding ?? 0) }, name)
}

/** The four BatchNorm parameters `<name>.weight|bias|running_mean|running_var` (running stats non-trainable). */
export const batchNormParams = (b: GraphBuilder, name: string, c: number, weightInit: Init = { kind: 'ones' }): Value[] => [
  b.param(`${name}.weight`, [c], weightInit),
  b.param(`${name}.bias`, [c], { kind: 'zeros' }),
  b.param(`${name}.running_mean`, [c], { kind: 'zeros' }, false),
  b.param(`${name}.running_var`, [c], { kind: 'ones' }, false),
]

/** BatchNorm over the channel axis (PyTorch BatchNorm2d: eps 1e-5, momentum 0.1). */
export const batchNorm = (name: string, o: { readonly eps?: number; readonly momentum?: number; readonly weightInit?: Init } = {}) => (x: Value): Value => {
  const b = x.builder
  const c = channelsOf(x, `batchNorm '${name}'`)
  if (c === undefined) return b.fail(b.error!)
  return b.node('batchNorm', [x, ...batchNormParams(b, name, c, o.weightInit)], { eps: o.eps ?? 1e-5, momentum: o.momentum ?? 0.1, training: b.training }, name)
}

/** LayerNorm over the channel (last) axis; eps defaults to 1e-6 as in ConvNeXt. */
export const layerNorm = (name: string, o: { readonly eps?: number } = {}) => (x: Value): Value => {
  const b = x.builder
  const c = channelsOf(x, `layerNorm '${name}'`)
  if (c === undefined) return b.fail(b.error!)
  const ins = [x, b.param(`${name}.weight`, [c], { kind: 'ones' }), b.param(`${name}.bias`, [c], { kind: 'zeros' })]
  return b.node('layerNorm', ins, { eps: o.eps ?? 1e-6 }, name)
}

/** GroupNorm (PyTorch semantics, eps 1e-5). */
export const groupNorm = (name: string, groups: number, o: { readonly eps?: number } = {}) => (x: Value): Value => {
  const b = x.builder
  const c = channelsOf(x, `groupNorm '${name}'`)
  if (c === undefined) return b.fail(b.error!)
  const ins = [x, b.param(`${name}.weight`, [c], { kind: 'ones' }), b.param(`${name}.bias`, [c], { kind: 'zeros' })]
  return b.node('groupNorm', ins, { groups, eps: o.eps ?? 1e-5 }, name)
}

/** ConvNeXt-V2 global response normalisation; gamma/beta start at 0 (identity). */
export const grn = (name: string, o: { readonly eps?: number } = {}) => (x: Value): Value => {
  const b = x.builder
  const c = channelsOf(x, `grn '${name}'`)
  if (c === undefined) return b.fail(b.error!)
  const ins = [x, b.param(`${name}.gamma`, [c], { kind: 'zeros' }), b.param(`${name}.beta`, [c], { kind: 'zeros' })]
  return b.node('grn', ins, { eps: o.eps ?? 1e-6 }, name)
}

/** Linear layer over the last axis (per position on NHWC, per sample on (B, C)). */
export const linear = (name: string, out: number, o: { readonly bias?: boolean; readonly init?: Init; readonly biasInit?: Init } = {}) => (x: Value): Value => {
  const b = x.builder
  const cin = channelsOf(x, `linear '${name}'`)
  if (cin === undefined) return b.fail(b.error!)
  const w = b.param(`${name}.weight`, [cin, out], o.init ?? torchDefaultInit(cin))
  const ins = o.bias ?? true ? [x, w, b.param(`${name}.bias`, [out], o.biasInit ?? torchDefaultInit(cin))] : [x, w]
  return b.node('linear', ins, {}, name)
}

/** Per-channel learnable scale (ConvNeXt layer scale `gamma`), stored under `paramName`. */
export const scale = (paramName: string, init: number) => (x: Value): Value => {
  const c = channelsOf(x, `scale '${paramName}'`)
  if (c === undefined) return x.builder.fail(x.builder.error!)
  return x.builder.node('mul', [x, x.builder.param(paramName, [c], { kind: 'constant', value: init })], {})
}

const unary = (op: 'relu' | 'relu6' | 'gelu' | 'silu' | 'sigmoid') => (x: Value): Value => x.builder.node(op, [x], {})
/** ReLU. */
export const relu = unary('relu')
/** ReLU6 = min(max(x, 0), 6). */
export const relu6 = unary('relu6')
/** GELU, exact erf form. */
export const gelu = unary('gelu')
/** SiLU / swish. */
export const silu = unary('silu')
/** Logistic sigmoid. */
export const sigmoid = unary('sigmoid')

/** Elementwise sum with broadcasting. */
export const add = (a: Value, b: Value): Value => a.builder.node('add', [a, b], {})
/** Elementwise product with broadcasting. */
export const mul = (a: Value, b: Value): Value => a.builder.node('mul', [a, b], {})

/** Options of pooling layers. */
export interface PoolOptions {
  readonly kernel: Size
  readonly stride?: Size
  readonly padding?: Size | Padding
}

/** Max pooling; padding counts as -inf (PyTorch MaxPool2d). */
export const maxPool = (o: PoolOptions, name?: string) => (x: Value): Value =>
  x.builder.node('maxPool', [x], { window: pair(o.kernel), strides: pair(o.stride ?? o.kernel), padding: toPadding(o.padding ?? 0) }, name)

/** Average pooling (PyTorch AvgPool2d; `countIncludePad` defaults to true as there). */
export const avgPool = (o: PoolOptions & { readonly countIncludePad?: boolean }, name?: string) => (x: Value): Value =>
  x.builder.node('avgPool', [x], { window: pair(o.kernel), strides: pair(o.stride ?? o.kernel), padding: toPadding(o.padding ?? 0), countIncludePad: o.countIncludePad ?? true }, name)

/** Global average pooling NHWC → (B, C). */
export const globalAvgPool = (x: Value): Value => x.builder.node('globalAvgPool', [x], {})

/** Concatenation along an axis (default: channels). */
export const concat = (xs: ReadonlyArray<Value>, axis = -1): Value => {
  const first = xs[0]
  if (first === undefined) throw new RangeError('concat: no inputs')
  return first.builder.node('concat', xs, { axis })
}

/** Reshape keeping the batch dimension; one entry may be -1. */
export const reshape = (shape: ReadonlyArray<number>) => (x: Value): Value => x.builder.node('reshape', [x], { shape })

/** Axis permutation. */
export const transpose = (perm: ReadonlyArray<number>) => (x: Value): Value => x.builder.node('transpose', [x], { perm })

/** Stochastic depth (identity at inference or when rate is 0). */
export const dropPath = (rate: number) => (x: Value): Value =>
  rate === 0 ? x : x.builder.node('dropPath', [x], { rate, training: x.builder.training })
