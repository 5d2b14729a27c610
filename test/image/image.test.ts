// The image pipeline: PNG/JPEG codecs (round trips, alpha dropped, refusals), torchvision's resize/crop
// sizes and offsets, the tent-filter resize (identity at scale 1, exact weights at 2× down and up,
// constants preserved), ImageNet normalisation values and the side-by-side composition. fast-check
// runs are seeded from env FC_SEED when set (fast-check prints the seed of a failure).

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { PNG } from 'pngjs'
import { decodeImage, encodeJpeg, encodePng, sniffImage } from '../../src/image/codec.js'
import { sideBySide } from '../../src/image/compose.js'
import type { FloatImage, Rgb8Image } from '../../src/image/image.js'
import { toFloatImage, toRgb8Image } from '../../src/image/image.js'
import { denormaliseImage, IMAGENET_MEAN, IMAGENET_STD, normaliseImage } from '../../src/image/normalise.js'
import { preprocessImage } from '../../src/image/preprocess.js'
import { centreCrop, resizeBilinear, shorterSideSize } from '../../src/image/transform.js'

const fcOpts = { numRuns: 30, ...(process.env['FC_SEED'] === undefined ? {} : { seed: Number(process.env['FC_SEED']) }) }

const rgb8 = (width: number, height: number, f: (x: number, y: number, c: number) => number): Rgb8Image => {
  const data = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = f(x, y, c)
  return { width, height, data }
}
const floatImg = (width: number, height: number, f: (x: number, y: number, c: number) => number): FloatImage => {
  const data = new Float32Array(width * height * 3)
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = f(x, y, c)
  return { width, height, data }
}
const arbRgb8 = fc
  .record({ w: fc.integer({ min: 1, max: 17 }), h: fc.integer({ min: 1, max: 13 }) })
  .chain(({ w, h }) => fc.uint8Array({ minLength: w * h * 3, maxLength: w * h * 3 }).map((data): Rgb8Image => ({ width: w, height: h, data })))

describe('codecs', () => {
  it('PNG: encode → decode is the identity on random RGB images', () => {
    fc.assert(
      fc.property(arbRgb8, (img) => {
        const back = decodeImage(encodePng(img))
        return E.isRight(back) && back.right.width === img.width && back.right.height === img.height && Buffer.compare(Buffer.from(back.right.data), Buffer.from(img.data)) === 0
      }),
      fcOpts,
    )
  })

  it('PNG with alpha: the alpha channel is dropped, RGB kept (as PIL convert("RGB"))', () => {
    const png = new PNG({ width: 2, height: 1 })
    png.data = Buffer.from([10, 20, 30, 0, 200, 100, 50, 128])
    const back = decodeImage(PNG.sync.write(png))
    expect(back).toEqual(E.right({ width: 2, height: 1, data: Uint8Array.from([10, 20, 30, 200, 100, 50]) }))
  })

  it('JPEG: encode (quality 95) → decode stays within 4/255 on average on a smooth image', () => {
    const img = rgb8(48, 40, (x, y, c) => (c === 0 ? 5 * x : c === 1 ? 6 * y : 128 + 2 * (x - y)))
    const back = decodeImage(encodeJpeg(img, 95), 'smooth.jpg')
    if (E.isLeft(back)) throw new Error(back.left)
    expect([back.right.width, back.right.height]).toEqual([48, 40])
    let sum = 0
    for (let i = 0; i < img.data.length; i++) sum += Math.abs((back.right.data[i] ?? 0) - (img.data[i] ?? 0))
    // JPEG is lossy: a smooth gradient at quality 95 loses ~1 level per channel on average.
    expect(sum / img.data.length).toBeLessThan(4)
    expect(sum).toBeGreaterThan(0) // it really went through the lossy codec
  })

  it('sniffs by signature and refuses other bytes, truncated and corrupted files with one line', () => {
    const png = encodePng(rgb8(8, 8, (x, y) => x * y))
    const jpg = encodeJpeg(rgb8(8, 8, (x, y) => x * y))
    expect([sniffImage(png), sniffImage(jpg), sniffImage(Uint8Array.from([1, 2, 3]))]).toEqual(['png', 'jpeg', undefined])
    expect(decodeImage(Uint8Array.from([1, 2, 3, 4]), 'x.png')).toEqual(E.left('x.png: not a PNG or JPEG file (unrecognised signature)'))
    for (const bad of [png.subarray(0, 40), jpg.subarray(0, 30)]) {
      const r = decodeImage(bad, 'cut')
      expect(E.isLeft(r) && r.left).toMatch(/^cut: cannot decode (PNG|JPEG): [^\n]+$/)
    }
    const corrupt = Uint8Array.from(png)
    corrupt[30] = (corrupt[30] ?? 0) ^ 0xff // inside the IHDR chunk: CRC mismatch
    expect(E.isLeft(decodeImage(corrupt))).toBe(true)
  })
})

describe('resize and crop (torchvision Resize(int) + CenterCrop)', () => {
  it('shorter side → size, longer side int(size·long/short)', () => {
    expect(shorterSideSize(640, 480, 224)).toEqual([298, 224])
    expect(shorterSideSize(480, 640, 224)).toEqual([224, 298])
    expect(shorterSideSize(100, 100, 96)).toEqual([96, 96])
    expect(shorterSideSize(1000, 333, 224)).toEqual([672, 224]) // 672.67 truncated
  })

  it('centre crop offsets round((H−h)/2) with Python rounding; a too large crop is refused', () => {
    const img = floatImg(7, 5, (x, y, c) => 100 * y + 10 * x + c)
    const c = centreCrop(img, 3, 3)
    if (E.isLeft(c)) throw new Error(c.left)
    expect(c.right.data[0]).toBe(100 * 1 + 10 * 2) // top = 1, left = 2
    const odd = centreCrop(floatImg(9, 4, (x) => x), 8, 3) // (9−8)/2 = 0.5 → 0, (4−3)/2 = 0.5 → 0 (half to even)
    expect(E.isRight(odd) && odd.right.data[0]).toBe(0)
    const odd3 = centreCrop(floatImg(11, 4, (x) => x), 8, 4) // 1.5 → 2
    expect(E.isRight(odd3) && odd3.right.data[0]).toBe(2)
    expect(centreCrop(img, 8, 3)).toEqual(E.left('cannot centre-crop 8x3 out of a 7x5 image'))
  })

  it('resizing to the same size is the identity; a constant image stays constant at any size', () => {
    fc.assert(
      fc.property(arbRgb8, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), (img8, w, h) => {
        const img = toFloatImage(img8)
        const same = resizeBilinear(img, img.width, img.height)
        const k = (img8.data[0] ?? 0) / 255
        const flat = resizeBilinear(floatImg(img.width, img.height, () => k), w, h)
        // 1e-6: normalised weights summing to 1 in float32, a few roundings of values ≤ 1.
        return same.data.every((v, i) => v === img.data[i]) && flat.data.length === w * h * 3 && flat.data.every((v) => Math.abs(v - k) <= 1e-6)
      }),
      fcOpts,
    )
  })

  it('2× down is the antialiased tent (weights 1/8, 3/8, 3/8, 1/8, renormalised at the border); 2× up is half-pixel bilinear', () => {
    const row = [0, 8, 16, 64, 32, 0, 8, 8]
    const img = floatImg(8, 1, (x) => row[x] ?? 0)
    const down = resizeBilinear(img, 4, 1).data.filter((_, i) => i % 3 === 0)
    const tent = (a: number, b: number, c: number, d: number): number => (a + 3 * b + 3 * c + d) / 8
    // border: the missing outside pixel's weight is dropped and the rest renormalised (3/7, 3/7, 1/7).
    const want = [(3 * 0 + 3 * 8 + 16) / 7, tent(8, 16, 64, 32), tent(64, 32, 0, 8), (0 + 3 * 8 + 3 * 8) / 7]
    down.forEach((v, i) => expect(v).toBeCloseTo(want[i] ?? NaN, 4))
    const up = resizeBilinear(floatImg(3, 1, (x) => [0, 4, 8][x] ?? 0), 6, 1).data.filter((_, i) => i % 3 === 0)
    // output centres at 0.25, 0.75, … input pixels: edge replication outside [0.5, 2.5].
    expect(Array.from(up)).toEqual([0, 1, 3, 5, 7, 8])
  })
})

describe('normalisation and composition', () => {
  it('(x/255 − mean)/std per channel, and back with clamping', () => {
    const img = toFloatImage(rgb8(1, 1, (_x, _y, c) => [255, 0, 128][c] ?? 0))
    const t = normaliseImage(img)
    expect(t.shape).toEqual([1, 1, 1, 3])
    const want = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225]
    want.forEach((v, c) => expect(t.data[c]).toBeCloseTo(v, 6))
    expect(Array.from(denormaliseImage(t).data).map((v, c) => Math.abs(v - (img.data[c] ?? NaN)) < 1e-6)).toEqual([true, true, true])
    const wild = denormaliseImage({ shape: [1, 1, 1, 3], data: Float32Array.of(100, -100, 0) })
    expect(Array.from(wild.data)).toEqual([1, 0, Math.fround(IMAGENET_MEAN[2])])
    expect(IMAGENET_STD).toEqual([0.229, 0.224, 0.225])
  })

  it('preprocessImage: a 160×120 PNG becomes (1, 96, 96, 3); a constant colour stays that colour', () => {
    const r = preprocessImage(encodePng(rgb8(160, 120, (_x, _y, c) => [200, 50, 90][c] ?? 0)), 96)
    if (E.isLeft(r)) throw new Error(r.left)
    expect(r.right.shape).toEqual([1, 96, 96, 3])
    const want = [200, 50, 90].map((v, c) => (v / 255 - (IMAGENET_MEAN[c] ?? 0)) / (IMAGENET_STD[c] ?? 1))
    // 1e-5: resize weights sum to 1 up to float32 rounding, scaled by 1/std ≈ 4.4.
    r.right.data.forEach((v, i) => expect(Math.abs(v - (want[i % 3] ?? NaN))).toBeLessThan(1e-5))
  })

  it('sideBySide: panels left to right with a gap of the background colour; heights must agree', () => {
    const a = floatImg(2, 2, () => 0.25)
    const b = floatImg(3, 2, (x) => x / 4)
    const s = sideBySide([a, b], { gap: 1, background: [1, 0, 0] })
    expect([s.width, s.height]).toEqual([6, 2])
    const px = (x: number, y: number): number[] => Array.from(s.data.subarray((y * 6 + x) * 3, (y * 6 + x) * 3 + 3))
    expect(px(1, 1)).toEqual([0.25, 0.25, 0.25])
    expect(px(2, 0)).toEqual([1, 0, 0])
    expect(px(5, 1)).toEqual([0.5, 0.5, 0.5])
    expect(() => sideBySide([a, floatImg(2, 3, () => 0)])).toThrow(/heights differ/)
    expect(toRgb8Image(s).data[(1 * 6 + 5) * 3]).toBe(128) // 0.5·255 = 127.5 rounds half up
  })
})
