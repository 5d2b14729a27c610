// Public API of sparkts: build a graph (layer helpers or the zoo) → check it (verify / inferTypes) →
// rewrite it (passes) → compile it on a backend → run it on host tensors. Everything exported here is
// documented at its definition; the README shows the intended flow.

// ---- IR
export type { DType, Dim, Shape, ConcreteShape, TensorType, HostTensor } from './ir/types.js'
export { f32, sizeOf, isConcrete, showShape, hostTensor } from './ir/types.js'
export type { Pair, Padding, Init, OpParams, OpKind } from './ir/ops.js'
export { arity, opKinds } from './ir/ops.js'
export type { NodeId, Node, AnyNode, Graph, GraphOutput } from './ir/graph.js'
export { nodeId, indexNodes, isOp, graphInputs, graphParams, users, describeNode } from './ir/graph.js'
export type { CompileError, NodeRef } from './ir/errors.js'
export { formatError } from './ir/errors.js'
export type { ShapeRule, Types } from './ir/infer.js'
export { shapeRules, inferTypes, inferNode } from './ir/infer.js'
export { verify } from './ir/verify.js'
export { printGraph, printNode } from './ir/print.js'
export { toDot } from './ir/dot.js'
export { initParams, fillInit } from './ir/init.js'
export type { ParamCounts, GraphCost } from './ir/cost.js'
export { countParams, graphCost } from './ir/cost.js'
export type { Value, BuilderOptions } from './ir/builder.js'
export { GraphBuilder } from './ir/builder.js'

// ---- models
export * as layers from './models/layers.js'
export type { Backbone, BackboneInfo, BuildOptions, Model } from './models/backbone.js'
export { buildBackbone } from './models/backbone.js'
export type { ZooEntry } from './models/zoo.js'
export { zoo, findModel } from './models/zoo.js'

// ---- passes
export type { Pass } from './passes/pass.js'
export { pipeline } from './passes/pass.js'
export { eliminateDeadCode } from './passes/eliminate-dead-code.js'

// ---- backends
export type { Backend, BackendName, CompileOptions, Executable, TensorMap, VjpResult } from './backends/backend.js'
export { backendNames } from './backends/backend.js'
export { getBackend } from './backends/index.js'
