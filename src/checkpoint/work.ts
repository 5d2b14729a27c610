// A diagnostic step counter incremented by the readers' input-driven loops (pickle opcodes, zip directory
// entries, strided element copies). Tests reset it and assert that work stays linear in the input size —
// a bounded-loop check that does not depend on timing. It has no effect on results.

/** Steps taken by the readers since the last reset. */
export const workMeter = { steps: 0 }

/** Resets the step counter. */
export const resetWorkMeter = (): void => {
  workMeter.steps = 0
}
