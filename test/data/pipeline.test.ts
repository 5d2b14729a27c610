// The data pipeline: batches as a pure function of (seed, epoch, step) (a resumed run sees the same data),
// epoch coverage, RandomResizedCrop ranges (property), flips, normalisation ranges, the evaluation
// transform of the padded built-in images, and image folders (sorted recursive order, classes, a bad file
// skipped with a warning naming it, empty folder errors).

import * as E from 'fp-ts/lib/Either.js'
import fc from 'fast-check'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { encodePng } from '../../src/image/codec.js'
import { BUILTIN_MEAN, BUILTIN_STD, loadBuiltinDataset } from '../../src/data/builtin.js'
import { SPARK_CROP, randomCropBox } from '../../src/data/augment.js'
import { loadImageFolder } from '../../src/data/folder.js'
import { batchIndices, evalBatch, stepsPerEpoch, trainBatch } from '../../src/data/pipeline.js'
import type { ImageSource } from '../../src/data/source.js'
import { labelledSource, takePerClass } from '../../src/data/source.js'
import { makeRng } from '../../src/util/rng.js'

const fcOpts = (numRuns: number) => ({ numRuns, ...(process.env['FC_SEED'] === undefined ? {} : { seed: Number(process.env['FC_SEED']) }) })

const small = (): ImageSource => {
  const d = loadBuiltinDataset()
  if (E.isLeft(d)) throw new Error(d.left)
  return labelledSource('small', takePerClass(d.right.train, 3)) // 30 images
}

const ok = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left)
  return e.right
}

describe('batches are a pure function of (seed, epoch, step)', () => {
  const src = small()
  const cfg = { seed: 11, batchSize: 8, inputSize: 32 }
  const steps = stepsPerEpoch(src.size, cfg.batchSize) // 4, the last one wrapping

  it('a run resumed at (epoch 1, step 2) sees exactly the batches of an uninterrupted run', () => {
    const full: Float32Array[] = []
    for (let e = 0; e < 3; e++) for (let s = 0; s < steps; s++) full.push(ok(trainBatch(src, cfg, e, s)).input.data)
    const resumedSrc = small() // a fresh process: new source object, no shared state
    const resumed: Float32Array[] = []
    for (let e = 1; e < 3; e++) for (let s = e === 1 ? 2 : 0; s < steps; s++) resumed.push(ok(trainBatch(resumedSrc, cfg, e, s)).input.data)
    expect(resumed.length).toBe(full.length - steps - 2)
    resumed.forEach((b, i) => expect(b).toEqual(full[steps + 2 + i]))
  })

  it('different steps, epochs and seeds give different batches', () => {
    const a = ok(trainBatch(src, cfg, 0, 0)).input.data
    expect(ok(trainBatch(src, cfg, 0, 1)).input.data).not.toEqual(a)
    expect(ok(trainBatch(src, cfg, 1, 0)).input.data).not.toEqual(a)
    expect(ok(trainBatch(src, { ...cfg, seed: 12 }, 0, 0)).input.data).not.toEqual(a)
  })

  it('every epoch visits every image; only the last step repeats (from the start of the permutation)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 9 }), fc.nat(1000), fc.nat(5), (n, b, seed, epoch) => {
        const all = Array.from({ length: stepsPerEpoch(n, b) }, (_, s) => batchIndices(seed, epoch, s, n, b)).flat()
        const first = all.slice(0, n)
        return new Set(first).size === n && all.slice(n).every((v, k) => v === first[k % n]) && all.every((v) => v >= 0 && v < n)
      }),
      fcOpts(200),
    )
  })

  it('labels follow the indices; shape is NHWC with the source channels', () => {
    const b = ok(trainBatch(src, cfg, 2, 3))
    expect(b.input.shape).toEqual([8, 32, 32, 1])
    expect([...(b.labels ?? [])]).toEqual(b.indices.map((i) => src.labels?.[i]))
    expect(E.isLeft(trainBatch(src, cfg, 0, steps))).toBe(true)
  })
})

describe('augmentation', () => {
  it('crop boxes lie inside the image with area ≈ scale·area and aspect ≈ ratio (rounding slack)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 300 }), fc.integer({ min: 8, max: 300 }), fc.nat(), (w, h, seed) => {
        const b = randomCropBox(w, h, makeRng(seed))
        const inside = b.top >= 0 && b.left >= 0 && b.top + b.height <= h && b.left + b.width <= w && b.width > 0 && b.height > 0
        // Sides are rounded: ±0.5 px on each side bounds the area and ratio error; the fallback (centre crop with the ratio clamped) is allowed too.
        const ar = b.width / b.height
        const okRatio = ar >= (SPARK_CROP.ratio[0] * (b.width - 0.5)) / (b.width + 0.5) - 1e-9 && ar <= (SPARK_CROP.ratio[1] * (b.width + 0.5)) / (b.width - 0.5) + 1e-9
        const areaFrac = ((b.width + 1) * (b.height + 1)) / (w * h)
        const fallback = b.top === Math.floor((h - b.height) / 2) && b.left === Math.floor((w - b.width) / 2)
        return inside && ((okRatio && areaFrac >= SPARK_CROP.scale[0]) || fallback)
      }),
      fcOpts(300),
    )
  })

  it('a 32×32 padded built-in image crops to 21–32 px sides, and both flips occur', () => {
    const src = small()
    const sides: number[] = []
    for (let s = 0; s < 200; s++) {
      const b = randomCropBox(32, 32, makeRng(s))
      sides.push(b.width, b.height)
    }
    // sqrt(0.67·1024·3/4) = 22.7 ≥ 21 and ≤ 32 (the image).
    expect(Math.min(...sides)).toBeGreaterThanOrEqual(21)
    expect(Math.max(...sides)).toBeLessThanOrEqual(32)
    // Full-image crops (scale 1, ratio 1): the output is the evaluation image, mirrored or not.
    const full = { seed: 3, batchSize: 1, inputSize: 32, crop: { scale: [1, 1] as const, ratio: [1, 1] as const } }
    const plain = ok(evalBatch(src, 32, 0, src.size))
    let flips = 0
    let straight = 0
    for (let e = 0; e < 30; e++) {
      const b = ok(trainBatch(src, full, e, 0))
      const i = b.indices[0] ?? 0
      const ref = plain.input.data.subarray(i * 1024, (i + 1) * 1024)
      const mirrored = new Float32Array(1024).map((_, p) => ref[Math.floor(p / 32) * 32 + 31 - (p % 32)] ?? 0)
      // Same arithmetic on the same pixels (identity resize): 1e-6 absorbs float32 rounding of the tent weights.
      const near = (a: Float32Array, r: Float32Array): boolean => a.every((v, k) => Math.abs(v - (r[k] ?? 0)) < 1e-6)
      if (near(b.input.data, ref)) straight++
      else if (near(b.input.data, mirrored)) flips++
    }
    expect(straight + flips).toBe(30)
    expect(flips).toBeGreaterThan(3)
    expect(straight).toBeGreaterThan(3)
  })

  it('normalised values stay within [(0−mean)/std, (1−mean)/std] and are not constant', () => {
    const src = small()
    const b = ok(trainBatch(src, { seed: 5, batchSize: 16, inputSize: 32 }, 0, 0))
    const lo = (0 - BUILTIN_MEAN) / BUILTIN_STD
    const hi = (1 - BUILTIN_MEAN) / BUILTIN_STD
    // Bilinear weights are convex: outputs stay in the input range up to float32 rounding (1e-5).
    expect(Math.min(...b.input.data)).toBeGreaterThanOrEqual(lo - 1e-5)
    expect(Math.max(...b.input.data)).toBeLessThanOrEqual(hi + 1e-5)
    expect(Math.max(...b.input.data) - Math.min(...b.input.data)).toBeGreaterThan(2)
  })

  it('the evaluation transform of a built-in image is the padded image, normalised', () => {
    const d = ok(loadBuiltinDataset())
    const src = labelledSource('t', d.train)
    const b = ok(evalBatch(src, 32, 5, 1))
    const px = (y: number, x: number): number => (b.input.data[y * 32 + x] ?? 0) * BUILTIN_STD + BUILTIN_MEAN
    // 1e-5: float32 normalise/denormalise round trip.
    expect(Math.abs(px(0, 0))).toBeLessThan(1e-5)
    for (const [y, x] of [[2, 2], [15, 16], [29, 29]] as const) expect(Math.abs(px(y, x) - (d.train.images[5 * 784 + (y - 2) * 28 + (x - 2)] ?? 0) / 255)).toBeLessThan(1e-5)
  })
})

describe('image folders', () => {
  const root = mkdtempSync(join(tmpdir(), 'sparkts-folder-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const png = (w: number, h: number, v: number): Uint8Array => encodePng({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) })

  it('loads recursively in sorted order, classes from first-level folders, skips a bad file with a warning naming it', () => {
    const dir = join(root, 'labelled')
    mkdirSync(join(dir, 'b', 'deep'), { recursive: true })
    mkdirSync(join(dir, 'a'), { recursive: true })
    writeFileSync(join(dir, 'b', 'x.png'), png(40, 30, 200))
    writeFileSync(join(dir, 'b', 'deep', 'y.png'), png(20, 20, 100))
    writeFileSync(join(dir, 'a', 'z.png'), png(10, 12, 50))
    writeFileSync(join(dir, 'a', 'broken.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2]))
    writeFileSync(join(dir, 'a', 'notes.txt'), 'not an image')
    const warnings: string[] = []
    const src = ok(loadImageFolder(dir, { warn: (m) => warnings.push(m) }))
    expect(warnings.length).toBe(1)
    expect(warnings[0]).toContain(join(dir, 'a', 'broken.jpg'))
    expect(src.size).toBe(3)
    expect(src.channels).toBe(3)
    expect([0, 1, 2].map((i) => src.describe(i))).toEqual([join(dir, 'a', 'z.png'), join(dir, 'b', 'deep', 'y.png'), join(dir, 'b', 'x.png')])
    expect(src.classes).toEqual(['a', 'b'])
    expect([...(src.labels ?? [])]).toEqual([0, 1, 1])
    expect(src.get(2).data[0]).toBe(200)
    const b = ok(trainBatch(src, { seed: 1, batchSize: 2, inputSize: 16 }, 0, 1))
    expect(b.input.shape).toEqual([2, 16, 16, 3])
    // Constant images stay constant after crop/resize: channel 0 is (v/255 − 0.485)/0.229 for one of the three values.
    const v0 = b.input.data[0] ?? 0
    expect([200, 100, 50].some((v) => Math.abs(v0 - (v / 255 - 0.485) / 0.229) < 1e-4)).toBe(true)
  })

  it('large images are downscaled at load to maxSide; unlabelled when files sit at the top level', () => {
    const dir = join(root, 'flat')
    mkdirSync(dir)
    writeFileSync(join(dir, 'big.png'), png(300, 200, 10))
    const src = ok(loadImageFolder(dir, { maxSide: 64 }))
    expect([src.get(0).width, src.get(0).height]).toEqual([96, 64])
    expect(src.labels).toBeUndefined()
  })

  it('an empty folder, a folder of undecodable files and a missing folder are clear errors', () => {
    const empty = join(root, 'empty')
    mkdirSync(join(empty, 'sub'), { recursive: true })
    const e1 = loadImageFolder(empty)
    expect(E.isLeft(e1) && e1.left).toMatch(/no PNG or JPEG images found/)
    const bad = join(root, 'bad')
    mkdirSync(bad)
    writeFileSync(join(bad, 'a.png'), 'nope')
    const e2 = loadImageFolder(bad, { warn: () => undefined })
    expect(E.isLeft(e2) && e2.left).toMatch(/none of the 1 image files could be decoded/)
    expect(E.isLeft(loadImageFolder(join(root, 'missing')))).toBe(true)
  })
})
