// Seeded pseudo-random numbers (no dependency needed for a 20-line generator): splitmix32 for uniforms,
// Box–Muller for normals. Deterministic across platforms, so weight init, masks and tests reproduce.

/** A seeded generator of uniform [0, 1) and standard normal numbers. */
export interface Rng {
  readonly uniform: () => number
  readonly normal: () => number
}

/** Creates a generator from a 32-bit seed. */
export const makeRng = (seed: number): Rng => {
  let s = seed >>> 0
  const uniform = (): number => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296
  }
  const normal = (): number => {
    const u = 1 - uniform()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform())
  }
  return { uniform, normal }
}

/** Hashes a string to a 32-bit seed (FNV-1a), to derive per-parameter streams. */
export const hashSeed = (s: string, seed = 0): number => {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h
}
