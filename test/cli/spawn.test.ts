// End-to-end: spawns the built executable (`node bin/sparkts.js …`) as a user would. The build is
// refreshed first with `npm run build` when dist/ is missing or older than any file of src/.

import { beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { zoo } from '../../src/models/zoo.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const built = join(root, 'dist', 'cli', 'main.js')

const newestMtime = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = join(dir, e.name)
    return Math.max(m, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }, 0)

const sparkts = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'sparkts.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, SPARKTS_DEBUG: '' } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '')

beforeAll(() => {
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(root, 'src'))) return
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, encoding: 'utf8', stdio: 'pipe' })
  } catch (e) {
    const out = (e as { stdout?: string }).stdout ?? ''
    throw new Error(`npm run build failed:\n${out.split('\n').slice(0, 20).join('\n')}`)
  }
}, 180_000)

describe('sparkts (spawned)', () => {
  it('--help lists the commands', () => {
    const r = sparkts('--help')
    expect(r.code).toBe(0)
    for (const c of ['models', 'inspect', 'bench']) expect(r.stdout).toContain(c)
  })

  it('models lists the zoo', () => {
    const r = sparkts('models')
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const names = Object.keys(zoo)
    if (names.length === 0) expect(r.stdout.trim()).toBe('(the model zoo is empty)')
    else {
      expect(lines(r.stdout)).toHaveLength(names.length + 1)
      for (const n of names) expect(r.stdout).toMatch(new RegExp(`^${n}\\s+\\w+\\s+\\S`, 'm'))
    }
  })

  const hasResnet50 = 'resnet50' in zoo
  if (!hasResnet50) console.warn('skipping `inspect resnet50`: resnet50 is not in the zoo yet')
  it.skipIf(!hasResnet50)('inspect resnet50 --input-size 224 --json: timm figures', () => {
    const r = sparkts('inspect', 'resnet50', '--input-size', '224', '--json')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toHaveLength(1)
    expect(JSON.parse(r.stdout)).toEqual({
      model: 'resnet50',
      family: 'resnet',
      input: [224, 224, 3],
      numClasses: 0,
      trainableParams: 23_508_032,
      // 2 running statistics × (64 + 3·(64+64+256) + 4·(128+128+512) + 6·(256+256+1024) + 3·(512+512+2048) + 4 downsample BNs 256+512+1024+2048)
      nonTrainableParams: 53_120,
      // The 4.09 GMACs commonly quoted for ResNet-50 minus its fc (2048·1000).
      macsPerImage: 4_089_184_256 - 2_048_000,
      downsampleRatio: 32,
      features: [[56, 56, 256], [28, 28, 512], [14, 14, 1024], [7, 7, 2048]],
    })
  })

  it('an unknown model: non-zero exit, one line on stderr', () => {
    const r = sparkts('inspect', 'resnet5O')
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe('')
    expect(lines(r.stderr)).toHaveLength(1)
    expect(r.stderr).toMatch(hasResnet50 ? /^sparkts: error: unknown model 'resnet5O'; closest: resnet50, / : /^sparkts: error: unknown model 'resnet5O'/)
  })

  it('a malformed custom module: one line naming the node, the op and both shapes', () => {
    const r = sparkts('inspect', 'test/fixtures/bad-conv.js', '--input-size', '64')
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(lines(r.stderr)).toEqual([
      "sparkts: error: node %2 'conv1' (conv2d): input channels 3 != weight in-channels 4 x groups 1; x [1,64,64,3], w [3,3,4,8]",
    ])
  })

  it('a usage error: exit 2, one line', () => {
    const r = sparkts('inspect', 'resnet50', '--input-size', 'big')
    expect(r.code).toBe(2)
    expect(lines(r.stderr)).toEqual(["sparkts: error: option '--input-size <n>' argument 'big' is invalid. expected an integer >= 1"])
  })
})
