// Forward benchmark entry of `npm run bench -- --model resnet50 --input-size 224 --batch-size 1
// --backend tfjs-wasm [--runs 5] [--warmup 2] [--threads N]`: the same as `sparkts bench …`, run on the
// compiled dist/ (the "bench" npm script rebuilds it first, so edits to src/ are always measured).
// Prints ONE JSON line on stdout; errors are one `sparkts: error: …` line on stderr.

let cli
try {
  cli = await import('../dist/cli/main.js')
} catch (e) {
  process.stderr.write(`sparkts: error: cannot load dist/cli/main.js (run \`npm run build\` first): ${String(e && e.message).split('\n')[0]}\n`)
  process.exit(1)
}
await cli.main(['bench', ...process.argv.slice(2)])
