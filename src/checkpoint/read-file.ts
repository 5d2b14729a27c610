// Node-only convenience: read a checkpoint file from disk (kept apart so read.ts stays browser-safe).

import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CheckpointError } from './errors.js'
import { readCheckpoint } from './read.js'
import type { Checkpoint } from './types.js'

/** Reads and parses a checkpoint file (.pth zip or legacy, .safetensors). */
export const readCheckpointFile = async (path: string): Promise<E.Either<CheckpointError, Checkpoint>> => {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (e) {
    return E.left({ _tag: 'Io', path, message: e instanceof Error ? e.message : String(e) })
  }
  return readCheckpoint(bytes, basename(path))
}
