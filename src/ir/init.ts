// Parameter initialisation from each param node's `init` spec. Every parameter draws from its own
// stream seeded by (seed, name), so adding a layer does not change the other layers' weights.

import type { Graph } from './graph.js'
import { graphParams } from './graph.js'
import type { Init } from './ops.js'
import type { HostTensor } from './types.js'
import { sizeOf } from './types.js'
import { hashSeed, makeRng } from '../util/rng.js'

/** Fills a buffer according to an init spec. */
export const fillInit = (init: Init, n: number, seed: number): Float32Array => {
  const out = new Float32Array(n)
  const r = makeRng(seed)
  switch (init.kind) {
    case 'zeros':
      return out
    case 'ones':
      return out.fill(1)
    case 'constant':
      return out.fill(init.value)
    case 'normal':
      for (let i = 0; i < n; i++) out[i] = r.normal() * init.std
      return out
    case 'truncNormal':
      for (let i = 0; i < n; i++) {
        let v = r.normal() * init.std
        while (v < init.a || v > init.b) v = r.normal() * init.std
        out[i] = v
      }
      return out
    case 'uniform':
      for (let i = 0; i < n; i++) out[i] = init.low + (init.high - init.low) * r.uniform()
      return out
  }
}

/** Initialises every parameter of a graph; returns name → tensor. */
export const initParams = (g: Graph, seed = 0): Map<string, HostTensor> =>
  new Map(graphParams(g).map((p) => [p.params.name, { shape: p.params.shape, data: fillInit(p.params.init, sizeOf(p.params.shape), hashSeed(p.params.name, seed)) }]))
