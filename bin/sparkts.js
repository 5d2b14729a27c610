#!/usr/bin/env node
// The `sparkts` executable: runs the compiled CLI in dist/ (built by `npm run build`, which `npm ci` runs
// through the "prepare" script). A missing build is reported in one line rather than as a stack trace.

let cli
try {
  cli = await import('../dist/cli/main.js')
} catch (e) {
  const missing = e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('/dist/')
  process.stderr.write(
    missing
      ? 'sparkts: error: the compiled CLI (dist/) is missing; run `npm run build` (or `npm ci`) in the sparkts package first\n'
      : `sparkts: error: cannot load the CLI: ${String(e && e.message).split('\n')[0]}\n`,
  )
  process.exit(1)
}
await cli.main(process.argv.slice(2))
