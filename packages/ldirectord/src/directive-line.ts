// One ldirectord.cf line split into directive name and value, scanned by
// hand in one pass. The regex it replaces backtracked on a run of blanks
// followed by a lone CR (4,000 tabs took 20 s): a parser must stay linear
// on any input, since a reload parses on the event loop.

export interface DirectiveLine {
  /** As written (case kept, for messages). */
  readonly name: string
  readonly value: string
}

const isNameStart = (c: number): boolean =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
const isNameChar = (c: number): boolean =>
  isNameStart(c) || (c >= 48 && c <= 57) || c === 95
// The white space of JavaScript's \s that can occur inside one line.
const isBlank = (c: number): boolean =>
  c === 32 ||
  c === 9 ||
  c === 11 ||
  c === 12 ||
  c === 13 ||
  c === 0xa0 ||
  c === 0xfeff ||
  c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 ||
  c === 0x2029 ||
  c === 0x202f ||
  c === 0x205f ||
  c === 0x3000

/**
 * `name = value` or `name value` (the `=` may be replaced by blanks); the
 * value is trimmed. Undefined when the line does not start with a name
 * followed by `=` or a blank.
 */
export function splitDirective(text: string): DirectiveLine | undefined {
  const n = text.length
  if (n === 0 || !isNameStart(text.charCodeAt(0))) return undefined
  let i = 1
  while (i < n && isNameChar(text.charCodeAt(i))) i++
  let j = i
  while (j < n && isBlank(text.charCodeAt(j))) j++
  if (j < n && text.charCodeAt(j) === 61)
    j++ // '='
  else if (j === i || j === n) return undefined
  return { name: text.slice(0, i), value: text.slice(j).trim() }
}
