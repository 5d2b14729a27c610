// PNG and JPEG files ↔ 8-bit RGB images, through the maintained pure-JavaScript codecs pngjs and jpeg-js
// (no native build, no download; they also run in a browser bundle). The format is sniffed from the
// magic bytes, not the file name. Codec exceptions become one-line Left messages; decoding is bounded by
// a pixel limit so a hostile header cannot ask for gigabytes.

import * as E from 'fp-ts/lib/Either.js'
import jpeg from 'jpeg-js'
import { PNG } from 'pngjs'
import type { Rgb8Image } from './image.js'
import { rgbaToRgb, rgbToRgba } from './image.js'

/** Image container formats understood by `decodeImage`. */
export type ImageFormat = 'png' | 'jpeg'

/** Largest image decoded, in megapixels. */
export const MAX_MEGAPIXELS = 64

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''

/** The format of some bytes, from their signature. */
export const sniffImage = (b: Uint8Array): ImageFormat | undefined => {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png'
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg'
  return undefined
}

const decodePng = (bytes: Uint8Array): Rgb8Image => {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  if (png.width * png.height > MAX_MEGAPIXELS * 1e6) throw new Error(`${png.width}x${png.height} exceeds ${MAX_MEGAPIXELS} megapixels`)
  return rgbaToRgb(new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), png.width, png.height)
}

const decodeJpeg = (bytes: Uint8Array): Rgb8Image => {
  const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 1024 })
  return rgbaToRgb(j.data, j.width, j.height)
}

/** Decodes a PNG (any bit depth/colour type; 16-bit scaled to 8) or a baseline/progressive JPEG to RGB. */
export const decodeImage = (bytes: Uint8Array, name = 'image'): E.Either<string, Rgb8Image> => {
  const format = sniffImage(bytes)
  if (format === undefined) return E.left(`${name}: not a PNG or JPEG file (unrecognised signature)`)
  try {
    const img = format === 'png' ? decodePng(bytes) : decodeJpeg(bytes)
    if (img.width < 1 || img.height < 1) return E.left(`${name}: empty ${format.toUpperCase()} image (${img.width}x${img.height})`)
    return E.right(img)
  } catch (e) {
    return E.left(`${name}: cannot decode ${format.toUpperCase()}: ${message(e)}`)
  }
}

/** Encodes an RGB image as an 8-bit RGB PNG (lossless). */
export const encodePng = (img: Rgb8Image): Uint8Array => {
  const png = new PNG({ width: img.width, height: img.height })
  png.data = Buffer.from(rgbToRgba(img))
  const out = PNG.sync.write(png, { colorType: 2, inputColorType: 6, inputHasAlpha: true })
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** Encodes an RGB image as a baseline JPEG (quality 1–100). */
export const encodeJpeg = (img: Rgb8Image, quality = 90): Uint8Array => {
  const out = jpeg.encode({ width: img.width, height: img.height, data: rgbToRgba(img) }, quality)
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength)
}
