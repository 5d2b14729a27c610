// `sparkts pretrain` in-process through `run(argv, io)`: a 2-step smoke run on the built-in data (small batch
// and decoder to stay quick) prints a JSON summary and plain progress lines (stderr is not a terminal), writes
// the checkpoint, backbone file and picture; a second run into the same --out is refused, `--resume` with a
// conflicting option is refused, `--resume --steps 3` continues with the stored options; an image folder
// trains with 3 channels and draws a progress bar when given a terminal writer; bad options fail in one line.
// The loop itself (bit-identical resume, NaN) is tested in test/train/pretrain.test.ts.

import * as E from 'fp-ts/lib/Either.js'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run } from '../../src/cli/main.js'
import { encodePng } from '../../src/image/codec.js'
import { readCheckpointDir } from '../../src/train/checkpoint.js'

let dir = ''
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sparkts-cli-pretrain-'))
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

const capture = (tty = false) => {
  const out: string[] = []
  const err: string[] = []
  const raw: string[] = []
  const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s), ...(tty ? { errTTY: (s: string) => raw.push(s) } : {}) }
  return { io, out, err, raw }
}

const iterationOf = async (d: string): Promise<number> => {
  const c = await readCheckpointDir(d)
  if (E.isLeft(c) || c.right === undefined) throw new Error('no checkpoint')
  return c.right.state.iteration
}

describe('sparkts pretrain', () => {
  it('smoke run with --steps, refusal of a second run, --resume with the stored options', async () => {
    const out = join(dir, 'run')
    const a = capture()
    const code = await run(['pretrain', '--out', out, '--steps', '2', '--batch-size', '4', '--decoder-width', '16', '--json'], a.io)
    expect(code, a.err.join('\n')).toBe(0)
    const summary = JSON.parse(a.out.join('')) as { status: string; steps: number; totalSteps: number; checkpoint: string; backbone: string; pictures: string[]; finalLoss: number }
    expect(summary).toMatchObject({ status: 'stopped', steps: 2, totalSteps: 2000, checkpoint: join(out, 'checkpoint.safetensors'), backbone: join(out, 'backbone.safetensors') })
    expect(Number.isFinite(summary.finalLoss)).toBe(true)
    expect(summary.pictures).toEqual([join(out, 'recon', 'final.png')])
    expect(existsSync(summary.backbone) && existsSync(summary.pictures[0] ?? '')).toBe(true)
    expect(a.err[0]).toMatch(/^sparkts pretrain: resnet_small on builtin:train \(8000 images, 1 channel\(s\)\), 32 px, batch 4, 1 epoch\(s\), mask 0\.6, peak lr 0\.03, decoder 16, seed 0, tfjs-wasm$/)
    const progress = a.err.filter((l) => l.startsWith('epoch '))
    expect(progress).toHaveLength(2)
    expect(progress[1]).toMatch(/^epoch 1\/1 step 2\/2000 \[#+\] 2\/2 loss \d+\.\d{4} lr \d\.\d\de-\d+ \d+\.\d img\/s ETA 0m00s$/)

    const again = capture()
    expect(await run(['pretrain', '--out', out, '--steps', '3'], again.io)).toBe(1)
    expect(again.err).toEqual([`sparkts: error: ${out} already holds a checkpoint; pass --resume to continue it or choose another --out`])

    const clash = capture()
    expect(await run(['pretrain', '--out', out, '--resume', '--batch-size', '8'], clash.io)).toBe(1)
    expect(clash.err).toEqual(["sparkts: error: --resume: --batch-size 8 differs from the checkpoint's 4 (a resumed run keeps its options)"])
    expect(await iterationOf(out)).toBe(2)

    const resumed = capture()
    expect(await run(['pretrain', '--out', out, '--resume', '--steps', '3', '--batch-size', '4'], resumed.io), resumed.err.join('\n')).toBe(0)
    expect(resumed.err[0]).toMatch(/batch 4, .* decoder 16, .*; resuming after 2 steps$/)
    expect(resumed.out.join('\n')).toMatch(/^stopped after 3 of 2000 steps in [\d.]+ s; mean loss per epoch \d\.\d{4}\ncheckpoint: .*checkpoint\.safetensors \(resume with --resume\)\nbackbone weights: .*backbone\.safetensors/)
    expect(await iterationOf(out)).toBe(3)
  }, 120_000)

  it('an image folder trains with 3 channels; a terminal gets a self-rewriting progress bar', async () => {
    const data = join(dir, 'images')
    mkdirSync(data)
    for (let i = 0; i < 3; i++) {
      const px = new Uint8Array(40 * 36 * 3).map((_, k) => (k * (i + 3) + i * 50) % 256)
      writeFileSync(join(data, `img${i}.png`), encodePng({ width: 40, height: 36, data: px }))
    }
    writeFileSync(join(data, 'broken.png'), 'not a png')
    const c = capture(true)
    const out = join(dir, 'folder-run')
    const code = await run(['pretrain', '--out', out, '--data', data, '--steps', '1', '--batch-size', '2', '--decoder-width', '8'], c.io)
    expect(code, c.err.join('\n')).toBe(0)
    expect(c.err.some((l) => l.startsWith('sparkts pretrain: warning: skipping') && l.includes('broken.png'))).toBe(true)
    expect(c.err.find((l) => l.startsWith('sparkts pretrain: resnet_small on'))).toContain('(3 images, 3 channel(s))')
    expect(c.raw.some((s) => /^\repoch 1\/1 step 1\/2 \[#+\] 1\/1 loss /.test(s))).toBe(true)
    expect(c.err.filter((l) => l.startsWith('epoch '))).toEqual([]) // no plain lines on a terminal
    expect(c.out.join('\n')).toContain(`reconstructions (masked | reconstruction | original): ${join(out, 'recon', 'final.png')}`)
  }, 120_000)

  it.each([
    [['--mask-ratio', '1.5'], 2, /mask-ratio.*between 0 and 1/],
    [['--lr', '0'], 2, /--lr.*> 0/],
    [['--backend', 'reference'], 2, /backend/],
    [['--input-size', '30'], 1, /^sparkts: error: input size 30 is not a multiple of resnet_small's downsample ratio 8$/],
    [['--model', 'resnet_smal'], 1, /^sparkts: error: unknown model 'resnet_smal'; closest: resnet_small/],
    [['--resume'], 1, /^sparkts: error: --resume: no checkpoint in /],
  ])('refuses %j in one line (exit %i)', async (args, exitCode, pattern) => {
    const c = capture()
    const out = join(dir, `bad-${args.join('')}`)
    expect(await run(['pretrain', '--out', out, ...args], c.io)).toBe(exitCode)
    expect(c.err).toHaveLength(1)
    expect(c.err[0]).toMatch(pattern)
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(false)
  }, 60_000)

  it('an empty image folder is a one-line error', async () => {
    const empty = join(dir, 'empty')
    mkdirSync(empty)
    const c = capture()
    expect(await run(['pretrain', '--out', join(dir, 'e-run'), '--data', empty], c.io)).toBe(1)
    expect(c.err).toEqual([`sparkts: error: ${empty}: no PNG or JPEG images found (searched recursively for .png/.jpg/.jpeg)`])
  })
})
