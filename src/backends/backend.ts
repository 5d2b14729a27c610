// The backend contract (jax-js `Backend` as a connector): a backend checks availability, compiles a
// verified graph for concrete input shapes into an Executable (pure, synchronous, every op must have a
// rule), and runs it on host tensors. Parameters are uploaded once at compile time. Heavy backends are
// loaded lazily by `getBackend` (src/backends/index.ts); unavailable ones say what to install.

import type * as E from 'fp-ts/lib/Either.js'
import type { Graph } from '../ir/graph.js'
import type { CompileError } from '../ir/errors.js'
import type { Types } from '../ir/infer.js'
import type { ConcreteShape, HostTensor } from '../ir/types.js'

/** Every backend name sparkts knows. */
export type BackendName = 'reference' | 'tfjs-cpu' | 'tfjs-wasm' | 'tfjs-webgl' | 'tfjs-node-gpu'

/** All backend names, in preference order for Node. */
export const backendNames: ReadonlyArray<BackendName> = ['tfjs-wasm', 'tfjs-cpu', 'reference', 'tfjs-node-gpu', 'tfjs-webgl']

/** Named host tensors (graph inputs, parameters, outputs, gradients). */
export type TensorMap = ReadonlyMap<string, HostTensor>

/** What `compile` needs beyond the graph. */
export interface CompileOptions {
  /** Concrete shape of every graph input, by input name (NHWC). */
  readonly inputShapes: Readonly<Record<string, ConcreteShape>>
  /** Value of every parameter, by PyTorch name. */
  readonly params: TensorMap
}

/** Result of a vector-Jacobian product. */
export interface VjpResult {
  readonly outputs: TensorMap
  /** Gradient of Σ_o <output_o, cotangent_o> w.r.t. every graph input and every trainable parameter. */
  readonly grads: TensorMap
}

/** A compiled graph. */
export interface Executable {
  /** Concrete types of every node. */
  readonly types: Types
  /** Runs the graph; returns every named output. */
  readonly run: (inputs: TensorMap) => Promise<TensorMap>
  /** Gradients (absent on backends that cannot differentiate, e.g. the reference interpreter). */
  readonly vjp?: (inputs: TensorMap, cotangents: TensorMap) => Promise<VjpResult>
  /** Frees backend memory (uploaded parameters). */
  readonly dispose: () => void
}

/** A backend. */
export interface Backend {
  readonly name: BackendName
  /** Right when usable here; Left with a one-line reason (e.g. which package to install). */
  readonly init: () => Promise<E.Either<string, void>>
  /** Compiles a graph for concrete shapes (call after `init` succeeded). */
  readonly compile: (g: Graph, opts: CompileOptions) => E.Either<CompileError, Executable>
  /** Human description: backend, threads, SIMD. */
  readonly describe: () => Readonly<Record<string, string | number | boolean>>
}
