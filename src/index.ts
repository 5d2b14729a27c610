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
export type { SparsifyOptions } from './passes/sparsify.js'
export { sparsify, sparsifyGraph } from './passes/sparsify.js'
export { desparsify, desparsifyGraph } from './passes/desparsify.js'
export type { ParamPass, Parameterised } from './passes/fold-batch-norm.js'
export { foldBatchNorm } from './passes/fold-batch-norm.js'

// ---- SparK
export type { MaskError, RandomMaskOptions } from './spark/mask.js'
export { randomMask, userMask, expandMask, keepCount } from './spark/mask.js'
export type { DensifyNorm, SparkOptions, SparkModel } from './spark/spark.js'
export { buildSpark, defaultDensifyNorm } from './spark/spark.js'
export { lightDecoder, decoderChannels } from './spark/decoder.js'

// ---- training
export type { Optimizer, OptimizerState, StepGroup, OptimError } from './train/optimizer.js'
export type { LambConfig } from './train/optimizer-lamb.js'
export { createLamb, sparkLamb } from './train/optimizer-lamb.js'
export type { AdamWConfig } from './train/optimizer-adamw.js'
export { createAdamW } from './train/optimizer-adamw.js'
export type { LrSchedule, WdSchedule, SparkScheduleArgs } from './train/schedule.js'
export { sparkSchedules, sparkDefaults, lrAt, wdAt } from './train/schedule.js'
export { sparkParamGroups, isNoDecay } from './train/param-groups.js'
export type { Trainer, TrainerOptions, TrainBackend, OptimizerSpec, StepHyper, StepResult, TrainState, TrainError } from './train/step.js'
export { createTrainer, hyperAt, formatTrainError } from './train/step.js'

// ---- data and evaluation
export type { LabelledImages, BuiltinDataset } from './data/builtin.js'
export { loadBuiltinDataset, FASHION_MNIST_CLASSES } from './data/builtin.js'
export type { BatchConfig, Batch } from './data/pipeline.js'
export { trainBatch, evalBatch, batchIndices, stepsPerEpoch } from './data/pipeline.js'
export type { ProbeOptions, ProbeResult } from './eval/probe.js'
export { linearProbe } from './eval/probe.js'
export type { FinetuneOptions, FinetuneResult } from './eval/finetune.js'
export { finetune } from './eval/finetune.js'

// ---- checkpoints, conversion, bundles
export * as checkpoint from './checkpoint/index.js'
export type { Conversion, ConversionReport } from './convert/torch-layout.js'
export { fromTorch, torchLayouts } from './convert/torch-layout.js'
export type { ConvertOptions, ConvertedModel } from './convert/convert.js'
export { convertCheckpoint } from './convert/convert.js'
export type { Bundle, BundleBytes, Manifest } from './bundle/bundle.js'
export { encodeBundle, decodeBundle } from './bundle/bundle.js'

// ---- backends
export type { Backend, BackendName, CompileOptions, Executable, TensorMap, VjpResult } from './backends/backend.js'
export { backendNames } from './backends/backend.js'
export { getBackend } from './backends/index.js'
