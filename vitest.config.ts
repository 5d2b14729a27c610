import { defineConfig } from 'vitest/config'

// One Node project. tfjs keeps a single global backend, so test files that switch backends must not
// share a worker with others running concurrently: files run in separate forked processes.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
