// Option value parsers shared by the CLI commands. They throw commander's InvalidArgumentError, which
// commander turns into one `error: option '…' argument '…' is invalid. …` line (no stack trace).

import { InvalidArgumentError } from 'commander'
import type { BackendName } from '../backends/backend.js'
import { backendNames } from '../backends/backend.js'

/** Parses an integer ≥ min (commander option parser). */
export const intAtLeast = (min: number) => (v: string): number => {
  const n = Number(v)
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`)
  return n
}

/** Parses a backend name. */
export const backendName = (v: string): BackendName => {
  const b = backendNames.find((n) => n === v)
  if (b === undefined) throw new InvalidArgumentError(`expected one of ${backendNames.join(', ')}`)
  return b
}
