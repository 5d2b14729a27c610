// Node-only file access for bundles (bundle.ts itself is byte-level and browser-safe). Writing is atomic:
// the files go into a fresh temporary directory next to the target (same file system), which is then
// renamed onto the target; on any error the temporary directory is removed, so no partial output
// directory ever appears. An existing non-empty target is refused (never overwritten piecemeal).

import * as E from 'fp-ts/lib/Either.js'
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import type { Bundle, BundleBytes } from './bundle.js'
import { BUNDLE_FILES, decodeBundle } from './bundle.js'

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const isNonEmptyDir = async (dir: string): Promise<boolean | 'not-a-dir'> => {
  try {
    return (await readdir(dir)).length > 0
  } catch (e) {
    const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined
    return code === 'ENOENT' ? false : 'not-a-dir'
  }
}

/** Writes named files into `dir` atomically (temp dir + rename); Left on any error, leaving nothing behind. */
export const writeDirAtomic = async (dir: string, files: ReadonlyMap<string, Uint8Array>): Promise<E.Either<string, string>> => {
  const target = resolve(dir)
  const state = await isNonEmptyDir(target)
  if (state === 'not-a-dir') return E.left(`output '${dir}' exists and is not a directory`)
  if (state) return E.left(`output directory '${dir}' exists and is not empty (remove it or choose another --out)`)
  let tmp: string | undefined
  try {
    tmp = await mkdtemp(join(dirname(target), `.${basename(target)}.tmp-`))
    for (const [name, bytes] of files) await writeFile(join(tmp, name), bytes)
    await rename(tmp, target)
    return E.right(target)
  } catch (e) {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true }).catch(() => undefined)
    return E.left(`writing '${dir}': ${message(e)}`)
  }
}

/** Writes a bundle directory atomically. */
export const writeBundleDir = (dir: string, b: BundleBytes): Promise<E.Either<string, string>> =>
  writeDirAtomic(dir, new Map([[BUNDLE_FILES.graph, b.graph], [BUNDLE_FILES.weights, b.weights], [BUNDLE_FILES.manifest, b.manifest]]))

/** Reads a bundle's three files from a directory (bytes only, no checks). */
export const readBundleBytes = async (dir: string): Promise<E.Either<string, BundleBytes>> => {
  try {
    const [graph, weights, manifest] = await Promise.all([BUNDLE_FILES.graph, BUNDLE_FILES.weights, BUNDLE_FILES.manifest].map((f) => readFile(join(dir, f))))
    if (graph === undefined || weights === undefined || manifest === undefined) return E.left(`'${dir}' is not a sparkts bundle`)
    return E.right({ graph, weights, manifest })
  } catch (e) {
    return E.left(`'${dir}' is not a readable sparkts bundle (${message(e)})`)
  }
}

/** Reads and checks a bundle directory. */
export const readBundleDir = async (dir: string): Promise<E.Either<string, Bundle>> => {
  const b = await readBundleBytes(dir)
  return E.isLeft(b) ? b : decodeBundle(b.right)
}

/** Writes one file atomically (temp file in the same directory, then rename). */
export const writeFileAtomic = async (path: string, bytes: Uint8Array): Promise<E.Either<string, string>> => {
  const target = resolve(path)
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`)
  try {
    await writeFile(tmp, bytes)
    await rename(tmp, target)
    return E.right(target)
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined)
    return E.left(`writing '${path}': ${message(e)}`)
  }
}
