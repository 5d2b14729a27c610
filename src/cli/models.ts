// `sparkts models`: the zoo as a table (name, family, description), or JSON lines for scripts.

import type { ZooEntry } from '../models/zoo.js'

/** One zoo row. */
export interface ModelRow {
  readonly name: string
  readonly family: string
  readonly description: string
}

/** Zoo rows sorted by name; the family is read from the backbone each factory creates. */
export const modelRows = (zoo: Readonly<Record<string, ZooEntry>>): ReadonlyArray<ModelRow> =>
  Object.entries(zoo)
    .map(([name, e]) => {
      let family = '?'
      try {
        family = e.create().family
      } catch {
        family = '?'
      }
      return { name, family, description: e.description }
    })
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))

/** Rows as an aligned table with a header; a note when the zoo is empty. */
export const formatModels = (rows: ReadonlyArray<ModelRow>): string => {
  if (rows.length === 0) return '(the model zoo is empty)'
  const all = [{ name: 'NAME', family: 'FAMILY', description: 'DESCRIPTION' }, ...rows]
  const wn = Math.max(...all.map((r) => r.name.length))
  const wf = Math.max(...all.map((r) => r.family.length))
  return all.map((r) => `${r.name.padEnd(wn)}  ${r.family.padEnd(wf)}  ${r.description}`.trimEnd()).join('\n')
}
