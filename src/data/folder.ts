// A folder of images as an ImageSource: every PNG/JPEG below the folder (recursive, by extension),
// in sorted path order (code-point order of the path relative to the folder, so the order is the same on
// every platform), decoded once at load through src/image (pngjs / jpeg-js; alpha dropped, grey → RGB,
// so folder sources are 3-channel and use the ImageNet mean/std). A file that does not decode is skipped
// with a warning naming it; a folder without any usable image is an error. Images whose shorter side
// exceeds `maxSide` are downscaled once at load (antialiased bilinear) to bound memory — the random crops
// then come from that copy (SparK crops the original; at ≤ 64 px training sizes the difference is a
// resampling detail). When every image sits in a first-level subfolder, those subfolders are the classes
// (sorted names → labels 0..K−1), as torchvision's ImageFolder.

import * as E from 'fp-ts/lib/Either.js'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { decodeImage } from '../image/codec.js'
import { toFloatImage, toRgb8Image } from '../image/image.js'
import { resizeShorterSide } from '../image/transform.js'
import type { ImageSource, RawImage } from './source.js'
import { RGB_MEAN, RGB_STD } from './source.js'

/** Options of `loadImageFolder`. */
export interface FolderOptions {
  /** Called once per skipped file with a message naming it. */
  readonly warn?: (message: string) => void
  /** Shorter side kept in memory (default 256). */
  readonly maxSide?: number
}

const IMAGE_EXT = /\.(png|jpe?g)$/i

const walk = (dir: string): ReadonlyArray<string> => {
  const out: string[] = []
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) visit(p)
      else if (e.isFile() && IMAGE_EXT.test(e.name)) out.push(p)
    }
  }
  visit(dir)
  const rel = (p: string): string => relative(dir, p).split(sep).join('/')
  return out.sort((a, b) => (rel(a) < rel(b) ? -1 : rel(a) > rel(b) ? 1 : 0))
}

/** Loads every decodable image below `dir` (see the header); Left when the folder is missing or has no usable image. */
export const loadImageFolder = (dir: string, o: FolderOptions = {}): E.Either<string, ImageSource> => {
  try {
    if (!statSync(dir).isDirectory()) return E.left(`${dir}: not a directory`)
  } catch {
    return E.left(`${dir}: no such directory`)
  }
  const maxSide = o.maxSide ?? 256
  const files = walk(dir)
  const images: RawImage[] = []
  const kept: string[] = []
  for (const f of files) {
    let bytes: Uint8Array
    try {
      bytes = new Uint8Array(readFileSync(f))
    } catch (e) {
      o.warn?.(`skipping ${f}: cannot read (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`)
      continue
    }
    const d = decodeImage(bytes, f)
    if (E.isLeft(d)) {
      o.warn?.(`skipping ${d.left}`)
      continue
    }
    const img = Math.min(d.right.width, d.right.height) > maxSide ? toRgb8Image(resizeShorterSide(toFloatImage(d.right), maxSide)) : d.right
    images.push({ width: img.width, height: img.height, channels: 3, data: img.data })
    kept.push(f)
  }
  if (images.length === 0)
    return E.left(files.length === 0 ? `${dir}: no PNG or JPEG images found (searched recursively for .png/.jpg/.jpeg)` : `${dir}: none of the ${files.length} image files could be decoded`)
  const parts = kept.map((f) => relative(dir, f).split(sep))
  const labelled = parts.every((p) => p.length >= 2)
  const classes = labelled ? [...new Set(parts.map((p) => p[0] ?? ''))].sort() : []
  const labels = labelled ? Int32Array.from(parts.map((p) => classes.indexOf(p[0] ?? ''))) : undefined
  return E.right({
    name: dir,
    size: images.length,
    channels: 3,
    mean: RGB_MEAN,
    std: RGB_STD,
    get: (i) => images[i] ?? { width: 1, height: 1, channels: 3, data: new Uint8Array(3) },
    ...(labels === undefined ? {} : { labels, classes }),
    describe: (i) => kept[i] ?? `#${i}`,
  })
}
