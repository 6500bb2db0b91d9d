// hasctl.conf: where to look. Optional; the command-line flags add to it.
//
//   remote  <host:port>            another master's daemon --metrics listener
//   control <daemon> <path>        a control socket not at the default path
//   timeout <duration>             per request (default 2s)
//
// Pure parser (parseConfig) apart from the file read (loadConfig).

import {
  IssueList,
  deepFreeze,
  parseHostPort,
  duration,
  lookupDirective,
  valueDirective,
  refine,
  text,
  type SourceLine,
  type ValueType,
  readConfigFile,
  sourceLines,
  splitWords,
  configOrThrow,
  type ConfigResult,
  configResult,
} from '@has/daemon-kit'
import { DAEMONS, isDaemonName, type DaemonName } from './daemons.js'

export const DEFAULT_CONFIG = '/etc/has/hasctl.conf'

export interface HasctlConfig {
  readonly remotes: readonly string[]
  readonly controls: Readonly<Partial<Record<DaemonName, string>>>
  readonly timeoutMs: number
}

export const DEFAULTS: HasctlConfig = {
  remotes: [],
  controls: {},
  timeoutMs: 2000,
}

interface Draft {
  readonly remotes: string[]
  readonly controls: Partial<Record<DaemonName, string>>
  timeoutMs: number
}

/** A directive: its word count and what it does with them. */
interface Directive {
  readonly words: number
  apply(
    d: Draft,
    args: readonly string[],
    l: SourceLine,
    issues: IssueList,
    name: string,
  ): void
}

/** A one-word directive read as `type` (the kit's value directive). */
const value = <T>(
  type: ValueType<T>,
  set: (d: Draft, v: T) => void,
): Directive => ({ words: 1, apply: valueDirective(type, set) })

const DIRECTIVES: Readonly<Record<string, Directive>> = {
  remote: value(
    refine(text, v => parseHostPort(v) !== undefined, 'host:port'),
    (d, v) => {
      d.remotes.push(v)
    },
  ),
  control: {
    words: 2,
    apply(d, [name = '', path = ''], l, issues) {
      if (!isDaemonName(name))
        issues.error(
          l,
          `control: unknown daemon; known: ${DAEMONS.join(' ')}`,
          name,
        )
      else d.controls[name] = path
    },
  },
  timeout: value(
    {
      ...duration(1, Number.MAX_SAFE_INTEGER, 's'),
      expect: 'a duration such as 2s or 500ms',
    },
    (d, v) => {
      d.timeoutMs = v
    },
  ),
}

/** Parses hasctl.conf text; never throws (the kit's one result shape). */
export function parseConfig(
  text: string,
  file: string,
): ConfigResult<HasctlConfig> {
  const issues = new IssueList()
  const d: Draft = { remotes: [], controls: {}, timeoutMs: DEFAULTS.timeoutMs }
  for (const l of sourceLines(text, file, { issues })) {
    const [key = '', ...args] = splitWords(l.text)
    const directive = lookupDirective(DIRECTIVES, key)
    if (!directive)
      issues.error(l, 'unknown directive; known: remote control timeout', key)
    else if (args.length !== directive.words)
      issues.error(l, `${key}: wrong number of arguments`, l.text)
    else directive.apply(d, args, l, issues, key)
  }
  const { remotes, controls, timeoutMs } = d
  return configResult(issues, () =>
    deepFreeze({ remotes, controls, timeoutMs }),
  )
}

/** Reads the file; a missing file at the default path means "use defaults". */
export async function loadConfig(
  path: string,
  required: boolean,
): Promise<HasctlConfig> {
  let text: string
  try {
    text = await readConfigFile(path)
  } catch (e) {
    if (!required) return DEFAULTS
    throw e
  }
  return configOrThrow(parseConfig(text, path))
}
