// Python 3's `round` for the places where SparK's numbers depend on it (mask `len_keep`, iteration counts
// of the schedules): JavaScript's Math.round sends exact halves up, Python sends them to the even neighbour.

/** Python 3 `round(x)`: to the nearest integer, exact halves to the even neighbour. */
export const roundHalfEven = (x: number): number => {
  const f = Math.floor(x)
  const d = x - f
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1
}
