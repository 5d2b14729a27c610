// Turns the `<model>` argument of the CLI into a Backbone: a zoo name, or a path to a JavaScript module
// exporting a Backbone (default export or `backbone`) — a user's own CNN. Failures are one-line messages:
// unknown names list the closest zoo names (edit distance), modules that fail to load or export the
// wrong thing say what was expected.

import * as E from 'fp-ts/lib/Either.js'
import { existsSync } from 'node:fs'
import { isAbsolute, resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Backbone } from '../models/backbone.js'
import type { ZooEntry } from '../models/zoo.js'

/** Levenshtein distance between two strings (case-insensitive). */
export const editDistance = (a: string, b: string): number => {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j)
  for (let i = 1; i <= s.length; i++) {
    const cur = [i]
    for (let j = 1; j <= t.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (s[i - 1] === t[j - 1] ? 0 : 1)
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub))
    }
    prev = cur
  }
  return prev[t.length] ?? 0
}

/** The `max` names closest to `name` (edit distance, then alphabetical). */
export const closestNames = (name: string, names: ReadonlyArray<string>, max = 3): ReadonlyArray<string> =>
  [...names]
    .map((n) => [n, editDistance(name, n) - (n.toLowerCase().startsWith(name.toLowerCase()) ? 0.5 : 0)] as const)
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
    .slice(0, max)
    .map(([n]) => n)

/** True when the argument names a file rather than a zoo model. */
export const looksLikePath = (spec: string): boolean => /[\\/]/.test(spec) || /\.(m?js|cjs|ts|mts)$/.test(spec)

/** Checks that a value has the shape of a Backbone; Left says what is missing. */
export const checkBackbone = (v: unknown): E.Either<string, Backbone> => {
  if (typeof v !== 'object' || v === null) return E.left(`expected an object, got ${v === null ? 'null' : typeof v}`)
  const o = v as Record<string, unknown>
  const problems = [
    typeof o['name'] === 'string' ? '' : 'name (string)',
    typeof o['features'] === 'function' ? '' : 'features (function)',
    typeof o['downsampleRatio'] === 'number' ? '' : 'downsampleRatio (number)',
    Array.isArray(o['featureChannels']) ? '' : 'featureChannels (number[])',
    typeof o['inChannels'] === 'number' ? '' : 'inChannels (number)',
    typeof o['family'] === 'string' ? '' : "family ('custom')",
    o['head'] === undefined || typeof o['head'] === 'function' ? '' : 'head (function, optional)',
  ].filter((p) => p !== '')
  return problems.length === 0 ? E.right(v as Backbone) : E.left(`not a Backbone: missing or wrong ${problems.join(', ')}`)
}

/** Picks the backbone out of a module namespace: `default` or `backbone`; a zero-argument factory is called. */
export const backboneFromModule = (mod: Readonly<Record<string, unknown>>): E.Either<string, Backbone> => {
  const candidate = mod['default'] ?? mod['backbone']
  if (candidate === undefined) return E.left('the module has no default export and no `backbone` export')
  const value = typeof candidate === 'function' ? (candidate as () => unknown)() : candidate
  return checkBackbone(value)
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''

/** Imports a module file and returns the backbone it exports. */
export const loadBackboneModule = async (path: string, cwd: string = process.cwd()): Promise<E.Either<string, Backbone>> => {
  const abs = isAbsolute(path) ? path : resolvePath(cwd, path)
  if (!existsSync(abs)) return E.left(`no such file: ${path}`)
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>
  } catch (e) {
    const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION')
      return E.left(`cannot import ${path}: Node cannot load TypeScript directly; compile it to JavaScript (tsc) and pass the .js file`)
    return E.left(`cannot import ${path}: ${firstLine(e)}`)
  }
  try {
    return E.mapLeft((m: string) => `${path}: ${m}`)(backboneFromModule(mod))
  } catch (e) {
    return E.left(`${path}: its backbone factory threw: ${firstLine(e)}`)
  }
}

/** Options that reach the zoo factory. */
export interface ResolveOptions {
  readonly dropPath?: number
  readonly cwd?: string
}

/** Resolves a zoo name or module path to a Backbone. */
export const resolveModel = async (
  spec: string,
  zoo: Readonly<Record<string, ZooEntry>>,
  o: ResolveOptions = {},
): Promise<E.Either<string, Backbone>> => {
  const entry = Object.hasOwn(zoo, spec) ? zoo[spec] : undefined
  if (entry !== undefined) {
    try {
      return E.right(entry.create(o.dropPath === undefined ? {} : { dropPath: o.dropPath }))
    } catch (e) {
      return E.left(`model ${spec}: ${firstLine(e)}`)
    }
  }
  const cwd = o.cwd ?? process.cwd()
  if (looksLikePath(spec) || existsSync(resolvePath(cwd, spec))) return loadBackboneModule(spec, cwd)
  const names = Object.keys(zoo)
  if (names.length === 0) return E.left(`unknown model '${spec}' (the model zoo is empty)`)
  return E.left(`unknown model '${spec}'; closest: ${closestNames(spec, names).join(', ')} (see 'sparkts models')`)
}
