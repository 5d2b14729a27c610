// Fuzzing the readers: random bytes (bare and behind each format's magic) and random mutations of each
// real file — truncation, byte flips (anywhere or in the header/pickle region), insertions — plus
// mutations of the zip's data.pkl re-packed with valid CRCs so the unpickler itself is exercised. Every
// case must return an Either (never throw) with a one-line message, and the readers' step counter must
// stay linear in the input (a bounded-loop check instead of a timing assertion). Truncations must fail.
// Default 200 cases per file and kind; SPARKTS_DEEP=1 runs 25× more.

import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, describe, expect, it } from 'vitest'
import { formatCheckpointError } from '../../src/checkpoint/errors.js'
import { readCheckpoint } from '../../src/checkpoint/read.js'
import { resetWorkMeter, workMeter } from '../../src/checkpoint/work.js'
import { readEntry, scanZip } from '../../src/checkpoint/zip.js'
import { fcSeed, torchZip } from './pickle-bytes.js'

const here = dirname(fileURLToPath(import.meta.url))
const FILES = ['spark_tiny_timm_style.pth', 'spark_tiny_timm_style_legacy.pth', 'spark_tiny_timm_style.safetensors']
const RUNS = process.env['SPARKTS_DEEP'] === '1' ? 5000 : 200
const tally = new Map<string, { left: number; right: number; maxStepsPerByte: number }>()

/** Work bound: every reader loop is linear; steps ≤ 3 per input byte plus the 1 MiB materialisation slack. */
const stepBound = (n: number): number => 3 * n + 2 ** 20

/** Reads; asserts an Either with a one-line message and a linear step count; returns whether it was Left. */
const check = (label: string, b: Uint8Array): boolean => {
  resetWorkMeter()
  const r = readCheckpoint(b, label)
  expect(workMeter.steps).toBeLessThanOrEqual(stepBound(b.length))
  const t = tally.get(label) ?? { left: 0, right: 0, maxStepsPerByte: 0 }
  t.maxStepsPerByte = Math.max(t.maxStepsPerByte, workMeter.steps / Math.max(1, b.length))
  if (E.isLeft(r)) {
    const msg = formatCheckpointError(r.left)
    expect(msg.length).toBeGreaterThan(0)
    expect(msg).not.toContain('\n')
    t.left++
  } else {
    expect(r.right.tensors.size).toBeGreaterThanOrEqual(0)
    t.right++
  }
  tally.set(label, t)
  return E.isLeft(r)
}

type Mutation =
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'flip'; readonly flips: ReadonlyArray<readonly [number, number]> }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }

/** Mutations of a file of length n; `head` biases positions into the first bytes (headers, pickles). */
const mutationArb = (n: number, head: number): fc.Arbitrary<Mutation> => {
  const pos = fc.oneof(fc.nat(Math.max(0, n - 1)), fc.nat(Math.max(0, Math.min(n, head) - 1)))
  return fc.oneof(
    fc.nat(Math.max(0, n - 1)).map((at) => ({ kind: 'truncate', at }) as const),
    fc.array(fc.tuple(pos, fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => ({ kind: 'flip', flips }) as const),
    fc.tuple(pos, fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, bytes]) => ({ kind: 'insert', at, bytes }) as const),
  )
}

const apply = (b: Uint8Array, m: Mutation): Uint8Array => {
  switch (m.kind) {
    case 'truncate':
      return b.slice(0, m.at)
    case 'flip': {
      const c = b.slice()
      for (const [p, x] of m.flips) c[p] = (c[p] as number) ^ x
      return c
    }
    case 'insert': {
      const c = new Uint8Array(b.length + m.bytes.length)
      c.set(b.subarray(0, m.at))
      c.set(m.bytes, m.at)
      c.set(b.subarray(m.at), m.at + m.bytes.length)
      return c
    }
  }
}

describe('fuzz', () => {
  afterAll(() => {
    for (const [k, t] of tally) console.log(`fuzz ${k}: ${t.left} Left, ${t.right} Right, max ${t.maxStepsPerByte.toFixed(3)} steps/byte`)
  })

  for (const f of FILES) {
    const bytes = new Uint8Array(readFileSync(join(here, '../fixtures/checkpoints', f)))
    it(`mutations of ${f} never throw and stay linear; truncations fail`, () => {
      expect(check(`${f} (unmutated)`, bytes)).toBe(false)
      fc.assert(
        fc.property(mutationArb(bytes.length, 16_384), (m) => {
          const left = check(f, apply(bytes, m))
          return m.kind !== 'truncate' || left
        }),
        { numRuns: RUNS, ...fcSeed() },
      )
    })
  }

  it('mutations of the zip data.pkl, re-packed with valid CRCs, never throw', () => {
    const z = new Uint8Array(readFileSync(join(here, '../fixtures/checkpoints/spark_tiny_timm_style.pth')))
    const entries = scanZip(z)
    if (E.isLeft(entries)) throw new Error(formatCheckpointError(entries.left))
    const storages: Record<string, Uint8Array> = {}
    let pkl: Uint8Array = new Uint8Array(0)
    for (const e of entries.right.values()) {
      const d = readEntry(z, e)
      if (E.isLeft(d)) throw new Error(formatCheckpointError(d.left))
      if (e.name.endsWith('/data.pkl')) pkl = d.right
      else if (e.name.includes('/data/')) storages[e.name.slice(e.name.lastIndexOf('/') + 1)] = d.right
    }
    expect(check('data.pkl (re-packed, unmutated)', torchZip(pkl, storages))).toBe(false)
    fc.assert(
      fc.property(mutationArb(pkl.length, pkl.length), (m) => {
        const left = check('data.pkl', torchZip(apply(pkl, m), storages))
        return m.kind !== 'truncate' || left
      }),
      { numRuns: RUNS, ...fcSeed() },
    )
  })

  it('random bytes, bare and behind each format magic, never throw', () => {
    const magics = [[], [0x50, 0x4b, 0x03, 0x04], [0x80, 0x02, 0x8a], [0x40, 0, 0, 0, 0, 0, 0, 0, 0x7b]]
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 4096 }), (magic, tail) => {
        const b = new Uint8Array(magic.length + tail.length)
        b.set(magic)
        b.set(tail, magic.length)
        return check('random', b)
      }),
      { numRuns: RUNS, ...fcSeed() },
    )
  })
})
