// Training-step benchmark entry of `npm run bench:train -- --model resnet50 --input-size 224 --batch-size 8
// --backend tfjs-wasm [--runs 3] [--warmup 1] [--threads N]` (src/train/bench-train.ts), run on the compiled
// dist/ (the "bench:train" npm script rebuilds it first). Prints ONE JSON line on stdout; errors are one
// `sparkts: error: …` line on stderr.

let bench
try {
  bench = await import('../dist/train/bench-train.js')
} catch (e) {
  process.stderr.write(`sparkts: error: cannot load dist/train/bench-train.js (run \`npm run build\` first): ${String(e && e.message).split('\n')[0]}\n`)
  process.exit(1)
}
process.exitCode = await bench.trainBenchMain(process.argv.slice(2))
