// The one entry point: sniff the container format from the first bytes (zip "PK\x03\x04" → PyTorch zip;
// 0x80 <protocol 2–5> 0x8a → legacy torch.save, whose first pickle is the LONG1 magic number; an 8-byte header length
// followed by "{" → safetensors), read it, and unwrap it into a Checkpoint.

import * as E from 'fp-ts/lib/Either.js'
import type { CheckpointError } from './errors.js'
import { readPthLegacy, readPthZip } from './pth.js'
import { readSafetensors } from './safetensors.js'
import type { Checkpoint, CheckpointFormat } from './types.js'
import { unwrapStateDict } from './unwrap.js'

/** The container format of some bytes, if recognised. */
export const sniffFormat = (b: Uint8Array): CheckpointFormat | undefined => {
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04) return 'pth-zip'
  if (b.length >= 9 && b[8] === 0x7b && b[5] === 0 && b[6] === 0 && b[7] === 0) return 'safetensors'
  if (b.length >= 3 && b[0] === 0x80 && (b[1] as number) >= 2 && (b[1] as number) <= 5 && b[2] === 0x8a) return 'pth-legacy'
  return undefined
}

/** Reads a checkpoint of any supported format from its bytes (the file name is only used in messages). */
export const readCheckpoint = (bytes: Uint8Array, fileName?: string): E.Either<CheckpointError, Checkpoint> => {
  const format = sniffFormat(bytes)
  if (format === undefined) {
    const head = [...bytes.subarray(0, 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ')
    return E.left({ _tag: 'UnknownFormat', detail: `${fileName ?? 'input'} starts with [${head}]: not zip, legacy torch.save or safetensors` })
  }
  if (format === 'safetensors') {
    const st = readSafetensors(bytes)
    if (E.isLeft(st)) return st
    const metadata = new Map(Object.entries(st.right.metadata))
    return E.right({ format, tensors: st.right.tensors, wrapper: null, metadata, extras: new Map() })
  }
  const obj = format === 'pth-zip' ? readPthZip(bytes) : readPthLegacy(bytes)
  if (E.isLeft(obj)) return obj
  const u = unwrapStateDict(obj.right)
  return E.isLeft(u) ? u : E.right({ format, ...u.right })
}
