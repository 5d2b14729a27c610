// The model zoo: name → backbone factory. Parameter names equal the timm / official PyTorch state_dict
// keys, so checkpoints map by name. Families live in their own files (resnet.ts, convnext.ts, …).

import type { Backbone } from './backbone.js'

/** A zoo entry: a factory (options such as drop-path rate) and a one-line description. */
export interface ZooEntry {
  readonly description: string
  readonly create: (o?: { readonly dropPath?: number }) => Backbone
}

/** Every model in the zoo, by name. */
export const zoo: Readonly<Record<string, ZooEntry>> = {}

/** Looks a model up by name. */
export const findModel = (name: string): ZooEntry | undefined => zoo[name]
