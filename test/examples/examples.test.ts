import { describe, expect, it } from 'vitest'
import { runCustom } from '../../examples/run-custom.js'

describe('README example', () => {
  it('builds, compiles and runs the custom backbone on tfjs-wasm: features at strides 4/8/16/32', async () => {
    const shapes = await runCustom(2, 64)
    expect(shapes).toEqual({ 'features.0': [2, 16, 16, 32], 'features.1': [2, 8, 8, 64], 'features.2': [2, 4, 4, 128], 'features.3': [2, 2, 2, 256] })
  })
})
