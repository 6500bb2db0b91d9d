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
  parseDuration,
  parseHostPort,
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

/** Parses hasctl.conf text; never throws (the kit's one result shape). */
export function parseConfig(
  text: string,
  file: string,
): ConfigResult<HasctlConfig> {
  const issues = new IssueList()
  const remotes: string[] = []
  const controls: Partial<Record<DaemonName, string>> = {}
  let timeoutMs = DEFAULTS.timeoutMs
  for (const l of sourceLines(text, file, { issues })) {
    const [key = '', ...args] = splitWords(l.text)
    if (key === 'remote' && args.length === 1) {
      const v = args[0] as string
      if (parseHostPort(v)) remotes.push(v)
      else issues.error(l, 'remote: expected host:port', v)
    } else if (key === 'control' && args.length === 2) {
      const [d = '', path = ''] = args
      if (!isDaemonName(d))
        issues.error(
          l,
          `control: unknown daemon; known: ${DAEMONS.join(' ')}`,
          d,
        )
      else controls[d] = path
    } else if (key === 'timeout' && args.length === 1) {
      const ms = parseDuration(args[0] as string, 's')
      if (ms === undefined || ms <= 0)
        issues.error(
          l,
          'timeout: expected a duration such as 2s or 500ms',
          args[0],
        )
      else timeoutMs = ms
    } else if (key === 'remote' || key === 'control' || key === 'timeout') {
      issues.error(l, `${key}: wrong number of arguments`, l.text)
    } else {
      issues.error(l, 'unknown directive; known: remote control timeout', key)
    }
  }
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
