// Child process of tfjs-threads.test.ts (tfjs keeps one wasm backend per process, so every thread setting
// gets a fresh process). Compiled to JS by the test, run as `node child.js <mode> <out.bin>`:
//   threads=N  getBackend('tfjs-wasm', { threads: N })
//   fault      initWasmThreads(2) with a worker fault injected, then getBackend('tfjs-wasm')
//   late       getBackend('tfjs-wasm') (1 thread), then getBackend('tfjs-wasm', { threads: 2 })
// Then it runs a 3×3 conv and a ResNet-18 (training BN, 64×64, batch 2) forward and vjp, writes every result
// as float32 to <out.bin>, prints one JSON line (describe(), the tensor manifest, the time it finished), and
// returns without process.exit: the parent checks that the process then exits by itself.

import { writeFileSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import { getBackend } from '../../src/backends/index.js'
import type { Backend } from '../../src/backends/backend.js'
import { initWasmThreads } from '../../src/backends/tfjs/wasm-threads.js'
import { tf } from '../../src/backends/tfjs/tf.js'
import { buildBackbone } from '../../src/models/backbone.js'
import { zoo } from '../../src/models/zoo.js'
import { initParams } from '../../src/ir/init.js'
import type { HostTensor } from '../../src/ir/types.js'
import { makeRng } from '../../src/util/rng.js'

const fail = (msg: string): never => {
  throw new Error(msg)
}
const must = <A>(e: E.Either<string, A>): A => (E.isRight(e) ? e.right : fail(e.left))

const randn = (shape: ReadonlyArray<number>, seed: number): HostTensor => {
  const r = makeRng(seed)
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()) }
}

const load = async (mode: string): Promise<Backend> => {
  if (mode.startsWith('threads=')) return must(await getBackend('tfjs-wasm', { threads: Number(mode.slice('threads='.length)) }))
  if (mode === 'fault') {
    await initWasmThreads(2, { injectWorkerFault: true })
    return must(await getBackend('tfjs-wasm'))
  }
  if (mode === 'late') {
    must(await getBackend('tfjs-wasm'))
    return must(await getBackend('tfjs-wasm', { threads: 2 }))
  }
  return fail(`unknown mode ${mode}`)
}

const main = async (): Promise<void> => {
  const [mode = '', out = ''] = process.argv.slice(2)
  const backend = await load(mode)
  const results = new Map<string, HostTensor>()
  const x = randn([2, 28, 28, 32], 1), w = randn([3, 3, 32, 48], 2)
  const conv = tf.tidy(() => tf.conv2d(tf.tensor4d(x.data, [2, 28, 28, 32]), tf.tensor4d(w.data, [3, 3, 32, 48]), 1, 'same'))
  results.set('conv', { shape: conv.shape, data: Float32Array.from(conv.dataSync()) })
  conv.dispose()
  const bb = zoo['resnet18']?.create() ?? fail('resnet18 missing')
  const g = must(E.mapLeft(String)(buildBackbone(bb, { inputSize: 64, batch: 2, numClasses: 10, training: true }))).graph
  const exe = must(E.mapLeft((e) => JSON.stringify(e))(backend.compile(g, { inputShapes: { input: [2, 64, 64, 3] }, params: initParams(g, 7) })))
  const inputs = new Map([['input', randn([2, 64, 64, 3], 3)]])
  const fwd = await exe.run(inputs)
  for (const [k, v] of fwd) results.set(`run/${k}`, v)
  const cot = new Map([...fwd].map(([k, v], i) => [k, randn(v.shape, 100 + i)]))
  const vjp = await (exe.vjp ?? fail('no vjp'))(inputs, cot)
  for (const [k, v] of vjp.outputs) results.set(`vjp.out/${k}`, v)
  for (const [k, v] of vjp.grads) results.set(`grad/${k}`, v)
  exe.dispose()
  const names = [...results.keys()].sort()
  const total = names.reduce((s, k) => s + (results.get(k)?.data.length ?? 0), 0)
  const buf = new Float32Array(total)
  let o = 0
  const manifest = names.map((k) => {
    const t = results.get(k) ?? fail(k)
    buf.set(t.data, o)
    o += t.data.length
    return { name: k, shape: t.shape, length: t.data.length }
  })
  writeFileSync(out, buf)
  process.stdout.write(`${JSON.stringify({ describe: backend.describe(), manifest, doneAt: Date.now() })}\n`)
}

await main()
