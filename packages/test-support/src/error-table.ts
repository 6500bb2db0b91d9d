// Every package documents its error codes in a README "Errors" table and
// defines them in src/errors.ts; this reads the table so one test per
// package can require the two lists to be equal.

import { readFileSync } from 'node:fs'

/**
 * Codes in the first column of the README's `## Errors` table, in either
 * form used: `` | `X_ERR_Y` | `` or `` | <a id="X_ERR_Y"></a>`X_ERR_Y` | ``.
 * `prefix` keeps only codes that start with it (e.g. `TM_ERR_`).
 */
export function readmeErrorCodes(
  readme: URL | string,
  prefix: string,
): string[] {
  const text = readFileSync(readme, 'utf8')
  const start = text.indexOf('\n## Errors')
  if (start < 0) throw new Error(`${String(readme)} has no "## Errors" section`)
  const end = text.indexOf('\n## ', start + 1)
  const section = text.slice(start, end < 0 ? undefined : end)
  const row = /^\| (?:<a id="[A-Z0-9_]+"><\/a>)?`?([A-Z][A-Z0-9_]*)`? \|/gm
  return [...section.matchAll(row)]
    .map(m => m[1] as string)
    .filter(c => c.startsWith(prefix))
    .sort()
}
