// The error function in float64, for the exact (erf) form of GELU. JavaScript has no Math.erf and the
// oracle must not borrow the approximation a backend under test uses (tfjs uses a 5-term A&S 7.1.26 fit,
// ~1e-7), so it is derived here from two textbook expansions (Abramowitz & Stegun, ch. 7):
//  - |x| < 3: A&S 7.1.6, erf(x) = 2/√π · e^{−x²} · Σ_{n≥0} 2ⁿ x^{2n+1} / (1·3·…·(2n+1)).
//    Every term is positive, so there is no cancellation; term_{n+1} = term_n · 2x² / (2n+3).
//    The relative rounding error is about (number of terms)·ε ≲ 1e-14 (≤ ~60 terms at |x| = 3).
//  - |x| ≥ 3: A&S 7.1.14, erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …)))),
//    a Stieltjes-type continued fraction that converges fast for large x; evaluated with the modified
//    Lentz method (Numerical Recipes §5.2) until a step changes the value by less than 1e-16 relatively.
// Tested against 40-digit mpmath values to 1e-13 (test/backends/reference.test.ts).

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI)
const ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI)
const SWITCH = 3

/** erf(x) for |x| < SWITCH by the all-positive series A&S 7.1.6. */
const erfSeries = (x: number): number => {
  const x2 = x * x
  let term = x
  let sum = x
  for (let n = 0; n < 500 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x2) / (2 * n + 3)
    sum += term
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum
}

/** erfc(x) for x ≥ SWITCH by the continued fraction A&S 7.1.14 (modified Lentz). */
const erfcFraction = (x: number): number => {
  // erfc(27) ≈ 5e-319 is the last value above double underflow; this also keeps x = ∞ out of the fraction.
  if (x > 27) return 0
  const tiny = 1e-300
  // f = b0 + a1/(b1 + a2/(b2 + …)) with b_k = x and a_k = k/2; erfc = e^{−x²}/√π / f.
  let f = x
  let c = f
  let d = 0
  for (let k = 1; k < 5000; k++) {
    const a = k / 2
    d = x + a * d
    d = Math.abs(d) < tiny ? tiny : d
    c = x + a / c
    c = Math.abs(c) < tiny ? tiny : c
    d = 1 / d
    const delta = c * d
    f *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f
}

/** The error function erf(x) = 2/√π ∫₀ˣ e^{−t²} dt, accurate to ~1e-15 absolute. */
export const erf = (x: number): number => {
  if (Number.isNaN(x)) return Number.NaN
  const ax = Math.abs(x)
  const v = ax < SWITCH ? erfSeries(ax) : 1 - erfcFraction(ax)
  return x < 0 ? -v : v
}

/** The complementary error function erfc(x) = 1 − erf(x): ~1e-16 absolute, ~1e-15 relative for x ≥ 3. */
export const erfc = (x: number): number => {
  if (Number.isNaN(x)) return Number.NaN
  if (x >= SWITCH) return erfcFraction(x)
  if (x <= -SWITCH) return 2 - erfcFraction(-x)
  return 1 - erf(x)
}

/** Exact GELU, x·Φ(x) = x/2 · erfc(−x/√2) (erfc keeps precision in the left tail). */
export const geluExact = (x: number): number => 0.5 * x * erfc(-x / Math.SQRT2)
