// What a command registration needs from the CLI (src/cli/main.ts builds it once): the zoo, the working
// directory, the backend loader, output sinks, and `fail`, which ends the command with one line on stderr.

import type { ZooEntry } from '../models/zoo.js'
import type { BackendLoader } from './bench.js'

/** The context every command registration receives. */
export interface CommandContext {
  readonly zoo: Readonly<Record<string, ZooEntry>>
  readonly cwd: string
  readonly loadBackend: BackendLoader
  readonly out: (s: string) => void
  readonly err: (s: string) => void
  /** Ends the command with a one-line failure (non-zero exit). */
  readonly fail: (message: string) => never
}
