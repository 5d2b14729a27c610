// Checkpoint reading errors as tagged data (carried in Either, never thrown), each with a one-line message.
// Tensor-level problems name the tensor (safetensors) or the storage key (PyTorch), pickle problems the
// byte offset and opcode, and a refused global names its module and name.

/** Every way reading or writing a checkpoint can fail. */
export type CheckpointError =
  | { readonly _tag: 'UnknownFormat'; readonly detail: string }
  | { readonly _tag: 'Truncated'; readonly what: string; readonly need: number; readonly have: number }
  | { readonly _tag: 'BadHeader'; readonly message: string }
  | { readonly _tag: 'BadTensor'; readonly tensor: string; readonly message: string }
  | { readonly _tag: 'CorruptZip'; readonly message: string }
  | { readonly _tag: 'MissingRecord'; readonly name: string }
  | { readonly _tag: 'BadStorage'; readonly key: string; readonly message: string }
  | { readonly _tag: 'ForbiddenGlobal'; readonly module: string; readonly name: string }
  | { readonly _tag: 'BadPickle'; readonly offset: number; readonly opcode: string; readonly message: string }
  | { readonly _tag: 'LimitExceeded'; readonly what: string; readonly limit: number }
  | { readonly _tag: 'NotAStateDict'; readonly message: string }
  | { readonly _tag: 'Unsupported'; readonly message: string }
  | { readonly _tag: 'Io'; readonly path: string; readonly message: string }

/** One-line human message for a checkpoint error. */
export const formatCheckpointError = (e: CheckpointError): string => escapeControls(describe(e))

/** Names and strings in a message come from the file: control characters (a newline in a corrupted storage key,
 *  found by the fuzz) are escaped so that every message stays one printable line. */
const escapeControls = (s: string): string =>
  s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)

const describe = (e: CheckpointError): string => {
  switch (e._tag) {
    case 'UnknownFormat':
      return `unknown checkpoint format: ${e.detail}`
    case 'Truncated':
      return `truncated file: ${e.what} needs ${e.need} bytes, ${e.have} available`
    case 'BadHeader':
      return `bad safetensors header: ${e.message}`
    case 'BadTensor':
      return `tensor '${e.tensor}': ${e.message}`
    case 'CorruptZip':
      return `corrupt zip archive: ${e.message}`
    case 'MissingRecord':
      return `missing archive record '${e.name}'`
    case 'BadStorage':
      return `storage '${e.key}': ${e.message}`
    case 'ForbiddenGlobal':
      return `refused pickle global ${e.module}.${e.name} (not in the state_dict allowlist; nothing was executed)`
    case 'BadPickle':
      return `bad pickle at byte ${e.offset} (${e.opcode}): ${e.message}`
    case 'LimitExceeded':
      return `limit exceeded: ${e.what} (limit ${e.limit})`
    case 'NotAStateDict':
      return `not a state dict: ${e.message}`
    case 'Unsupported':
      return `unsupported checkpoint: ${e.message}`
    case 'Io':
      return `cannot read '${e.path}': ${e.message}`
  }
}

/** Truncation error constructor. */
export const truncated = (what: string, need: number, have: number): CheckpointError => ({ _tag: 'Truncated', what, need, have })

/** Tensor error constructor. */
export const badTensor = (tensor: string, message: string): CheckpointError => ({ _tag: 'BadTensor', tensor, message })
