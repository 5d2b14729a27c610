import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import { readFileSync } from 'node:fs'
import { GraphBuilder } from '../../src/ir/builder.js'
import { graphParams } from '../../src/ir/graph.js'
import { inferTypes } from '../../src/ir/infer.js'
import { decoderChannels, lightDecoder } from '../../src/spark/decoder.js'

// Parameter shapes of the official SparK model of the spark-tiny fixture (decoder width 96, ratio 32).
const official: Record<string, number[]> = JSON.parse(readFileSync(new URL('../fixtures/spark-tiny/param-shapes.json', import.meta.url), 'utf8')).shapes

/** PyTorch → sparkts layout; the same permutation serves conv OIHW → HWIO and ConvTranspose2d (in,out,kh,kw) → (kh,kw,out,in). */
const toOurs = (s: number[]): number[] => (s.length !== 4 ? s : [s[2]!, s[3]!, s[1]!, s[0]!])

describe('LightDecoder', () => {
  it('channels halve from the width: 768 → [768,384,192,96,48,24] for ratio 32', () => {
    expect(decoderChannels(768, 32)).toEqual([768, 384, 192, 96, 48, 24])
  })

  it('has exactly the official dense_decoder parameters (names and shapes) and upsamples 3×3 → 96×96', () => {
    const b = new GraphBuilder({ training: true })
    const ch = decoderChannels(96, 32)
    const toDec = [3, 6, 12, 24].map((s, k) => b.input(`to_dec.${k}`, [2, s, s, ch[k]!]))
    const rec = lightDecoder(toDec, { width: 96, downsampleRatio: 32 })
    const g = b.build([['rec', rec]])
    if (E.isLeft(g)) throw new Error(g.left._tag)
    const ours = Object.fromEntries(graphParams(g.right).map((p) => [p.params.name, [...p.params.shape]]))
    const theirs = Object.fromEntries(
      Object.entries(official).filter(([k]) => k.startsWith('dense_decoder.') && !k.endsWith('num_batches_tracked')).map(([k, s]) => [k, toOurs(s)]),
    )
    expect(ours).toEqual(theirs)
    const t = inferTypes(g.right)
    expect(E.isRight(t) && t.right.get(rec.id)?.shape).toEqual([2, 96, 96, 3])
  })
})
