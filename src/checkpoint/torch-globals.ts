// The allowlist of Python globals a PyTorch state_dict pickle may name, and what each does — as data, no
// code is ever looked up by name. Derived from torch/serialization.py and torch/_utils.py (persistent id
// ('storage', <torch.XStorage>, key, location, numel[, view_metadata]); _rebuild_tensor_v2(storage,
// offset, size, stride, requires_grad, backward_hooks[, metadata])). Every other global (os.system,
// builtins.eval, posix.system, subprocess.Popen, ...) is refused by name before anything is built.

import * as E from 'fp-ts/lib/Either.js'
import type { HookResult, PickleHooks } from './pickle.js'
import type { PyStorage, PyTensor, PyValue } from './py-values.js'
import { asCount, newDict, pyTypeOf, tuple } from './py-values.js'
import type { DType } from './types.js'
import { DTYPE_SIZE } from './types.js'

/** Storage classes → element type. */
export const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'F32', DoubleStorage: 'F64', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
}

/** Every global a state_dict pickle may name (module.name). */
export const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch.Size',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
])

/** What loading collects: storages by key and every tensor view created (filled in later). */
export interface TorchContext {
  readonly storages: Map<string, PyStorage>
  readonly tensors: PyTensor[]
  /** Bytes of tensor data that may still be materialised (guards stride-0 blow-ups). */
  budget: number
}

/** A fresh context with a materialisation budget in bytes. */
export const newTorchContext = (budget: number): TorchContext => ({ storages: new Map(), tensors: [], budget })

const globalName = (v: PyValue): string | undefined =>
  v !== null && typeof v === 'object' && v._py === 'global' ? `${v.module}.${v.name}` : undefined

const tupleItems = (v: PyValue): ReadonlyArray<PyValue> | undefined =>
  v !== null && typeof v === 'object' && v._py === 'tuple' ? v.items : undefined

const counts = (v: PyValue): number[] | undefined => {
  const items = tupleItems(v)
  if (items === undefined) return undefined
  const out = items.map(asCount)
  return out.every((x): x is number => x !== undefined) ? out : undefined
}

/** _rebuild_tensor_v2: validates the view against its storage and records it. */
const rebuildTensor = (ctx: TorchContext, args: ReadonlyArray<PyValue>): HookResult => {
  const [storage, offset, size, stride] = args
  if (args.length < 6 || args.length > 7) return E.left(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`)
  if (storage === null || typeof storage !== 'object' || storage._py !== 'storage') return E.left(`_rebuild_tensor_v2: expected a storage, got ${pyTypeOf(storage ?? null)}`)
  const off = asCount(offset ?? null)
  const sz = counts(size ?? null)
  const st = counts(stride ?? null)
  const where = `storage '${storage.key}'`
  if (off === undefined || sz === undefined || st === undefined || sz.length !== st.length) {
    return E.left({ _tag: 'BadStorage', key: storage.key, message: 'tensor offset/size/stride are not non-negative integers of equal rank' })
  }
  let numel = 1
  let last = off
  for (let i = 0; i < sz.length; i++) {
    numel *= sz[i] as number
    last += ((sz[i] as number) - 1) * (st[i] as number)
  }
  if (!Number.isSafeInteger(numel) || !Number.isSafeInteger(last)) return E.left({ _tag: 'BadStorage', key: storage.key, message: 'tensor extent overflows' })
  if (numel > 0 && last >= storage.numel) {
    return E.left({ _tag: 'BadStorage', key: storage.key, message: `view [${sz.join(',')}] stride [${st.join(',')}] offset ${off} reaches element ${last} of ${storage.numel}` })
  }
  const bytes = numel * DTYPE_SIZE[storage.dtype]
  if (bytes > ctx.budget) return E.left({ _tag: 'LimitExceeded', what: `tensor data to materialise (${where})`, limit: ctx.budget })
  ctx.budget -= bytes
  const t: PyTensor = { _py: 'tensor', storage, offset: off, size: sz, stride: st, value: undefined }
  ctx.tensors.push(t)
  return E.right(t)
}

const reduce = (ctx: TorchContext) => (callable: PyValue, argsV: PyValue): HookResult => {
  const name = globalName(callable)
  const args = tupleItems(argsV)
  if (name === undefined || args === undefined) return E.left(`REDUCE needs an allowlisted global and a tuple, got ${pyTypeOf(callable)}, ${pyTypeOf(argsV)}`)
  switch (name) {
    case 'collections.OrderedDict':
      return args.length === 0 ? E.right(newDict(true)) : E.left('OrderedDict(...) with arguments is not supported')
    case 'torch._utils._rebuild_tensor_v2':
      return rebuildTensor(ctx, args)
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state': {
      const data = args[0]
      return data !== undefined && data !== null && typeof data === 'object' && data._py === 'tensor' ? E.right(data) : E.left(`${name} expects a tensor`)
    }
    case 'torch.Size': {
      const dims = args.length === 1 ? counts(args[0] as PyValue) : undefined
      return dims === undefined ? E.left('torch.Size expects one tuple of sizes') : E.right(tuple(dims))
    }
    default:
      return E.left(`${name} is not callable here`)
  }
}

/** Validates a persistent id and returns the (shared) storage it names. */
const persistentLoad = (ctx: TorchContext) => (pid: PyValue): HookResult => {
  const items = tupleItems(pid)
  if (items === undefined || items[0] !== 'storage') return E.left(`persistent id must be a ('storage', ...) tuple, got ${pyTypeOf(pid)}`)
  const [, type, key, location, numelV, view] = items
  const tname = globalName(type ?? null)
  const dtype = tname?.startsWith('torch.') === true ? STORAGE_DTYPES[tname.slice(6)] : undefined
  const numel = asCount(numelV ?? null)
  if (dtype === undefined || typeof key !== 'string' || typeof location !== 'string' || numel === undefined || items.length > 6) {
    return E.left('malformed storage persistent id')
  }
  if (view !== undefined && view !== null) return E.left({ _tag: 'Unsupported', message: `storage '${key}' is a legacy storage view` })
  const seen = ctx.storages.get(key)
  if (seen !== undefined) {
    return seen.dtype === dtype && seen.numel === numel ? E.right(seen) : E.left({ _tag: 'BadStorage', key, message: 'referenced with two different types or sizes' })
  }
  const s: PyStorage = { _py: 'storage', key, dtype, numel, location }
  ctx.storages.set(key, s)
  return E.right(s)
}

/** Unpickler hooks for a torch.save'd state_dict, recording storages and tensors into ctx. */
export const torchHooks = (ctx: TorchContext): PickleHooks => ({
  findGlobal: (module, name) =>
    ALLOWED_GLOBALS.has(`${module}.${name}`) ? E.right({ _py: 'global', module, name }) : E.left({ _tag: 'ForbiddenGlobal', module, name }),
  reduce: reduce(ctx),
  newobj: (cls, args) =>
    globalName(cls) === 'collections.OrderedDict' && tupleItems(args)?.length === 0 ? E.right(newDict(true)) : E.left(`NEWOBJ of ${pyTypeOf(cls)} is not allowed`),
  build: (obj, state) => {
    if (obj !== null && typeof obj === 'object' && obj._py === 'dict') {
      obj.attrs = state
      return E.right(obj)
    }
    return E.left(`BUILD of ${pyTypeOf(obj)} is not allowed`)
  },
  persistentLoad: persistentLoad(ctx),
})
