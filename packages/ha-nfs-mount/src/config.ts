// ha-nfs-mount.conf: global directives (`name value`), fstab-like mount
// lines (`server1,server2:/export /mnt/point [options]`) and `sync` lines.
// parseConfig is pure and names every problem with file:line and the bad
// value; loadConfig is the only part that reads a file.

import {
  deepFreeze,
  IssueList,
  parseDuration,
  parseIntRange,
  readConfigFile,
  sourceLines,
  splitWords,
  type SourceLine,
  configOrThrow,
  type ConfigResult,
  configResult,
  type ValueType,
  duration,
  int,
  oneOf,
  pattern,
  text,
  lookupDirective,
} from '@has/daemon-kit'

export type MounterKind = 'nfs' | 'bind'

export interface MountSpec {
  /** `server1,server2:/export`, as written. */
  readonly source: string
  readonly servers: readonly string[]
  readonly exportPath: string
  readonly mountPoint: string
  /** Options handed to `mount -t nfs -o` (ha-* options removed). */
  readonly nfsOptions: readonly string[]
  readonly failures: number
  readonly failbackHoldMs: number | null
  readonly rpcVersions: readonly number[]
  readonly rpcPort: number
  readonly line: number
}

export interface SyncSpec {
  readonly source: string
  /** Local directory, `host:/path` (rsync over ssh) or `rsync://host[:port]/module/path`. */
  readonly target: string
  readonly line: number
}

export interface HnmConfig {
  readonly file: string
  readonly interval: number // ms between RPC probe rounds
  readonly probeTimeout: number // ms per RPC probe
  readonly failures: number
  readonly failbackHold: number | null // ms; null = never
  readonly statInterval: number // ms between stat probes of a mounted replica
  readonly statTimeout: number // ms before a stat counts as hung
  readonly mountTimeout: number // ms for one mount/umount command
  readonly stagingDir: string
  readonly mounter: MounterKind
  readonly rpcVersions: readonly number[]
  readonly rpcPort: number
  /** bind mounter only: `server:/export` → local directory (the test seam). */
  readonly bindMap: Readonly<Record<string, string>>
  readonly mounts: readonly MountSpec[]
  readonly syncs: readonly SyncSpec[]
  readonly syncDelay: number // ms to batch changes before rsync
  readonly syncRetryMin: number // ms, first back-off after a failure
  readonly syncRetryMax: number // ms, back-off ceiling
  readonly syncConnectTimeout: number // ms, reachability of a remote target
  readonly rsyncPath: string
  readonly rsyncArgs: readonly string[]
}

export const DEFAULTS = Object.freeze({
  interval: 200, // ms
  probeTimeout: 150, // ms
  failures: 2,
  failbackHold: 30_000 as number | null, // ms
  statInterval: 1000, // ms
  statTimeout: 2000, // ms
  mountTimeout: 15_000, // ms
  stagingDir: '/run/ha-nfs-mount',
  mounter: 'nfs' as MounterKind,
  rpcVersions: [3, 4] as readonly number[],
  rpcPort: 2049,
  syncDelay: 200, // ms
  syncRetryMin: 1000, // ms
  syncRetryMax: 30_000, // ms
  // rsync's own connect timeout is 30 s: an unreachable target would look
  // like a running pass that long.
  syncConnectTimeout: 3000, // ms
  rsyncPath: 'rsync',
  rsyncArgs: [] as readonly string[],
})

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface RawMount {
  readonly at: SourceLine
  readonly words: string[]
}

const MAX_DURATION = 24 * 3_600_000

type Draft = Mutable<Omit<HnmConfig, 'mounts' | 'syncs' | 'bindMap'>>

/** A one-value directive: its daemon-kit value type and what it sets. */
interface Single {
  readonly type: ValueType<unknown>
  set(c: Draft, v: unknown): void
}
const single = <T>(
  type: ValueType<T>,
  set: (c: Draft, v: T) => void,
): Single => ({ type, set: set as (c: Draft, v: unknown) => void })

/** Durations in ms within [min, 24h], in this file's wording. */
const ms = (min: number): ValueType<number> => ({
  ...duration(min, MAX_DURATION, 'ms'),
  expect: `a duration from ${min}ms to 24h (200ms, 2s)`,
})

const SINGLE: Readonly<Record<string, Single>> = {
  interval: single(ms(1), (c, v) => (c.interval = v)),
  'probe-timeout': single(ms(1), (c, v) => (c.probeTimeout = v)),
  'stat-interval': single(ms(1), (c, v) => (c.statInterval = v)),
  'stat-timeout': single(ms(1), (c, v) => (c.statTimeout = v)),
  'mount-timeout': single(ms(1), (c, v) => (c.mountTimeout = v)),
  'sync-delay': single(ms(0), (c, v) => (c.syncDelay = v)),
  'sync-retry-min': single(ms(1), (c, v) => (c.syncRetryMin = v)),
  'sync-retry-max': single(ms(1), (c, v) => (c.syncRetryMax = v)),
  'sync-connect-timeout': single(ms(1), (c, v) => (c.syncConnectTimeout = v)),
  failures: single(
    { ...int(1, 100), expect: 'an integer from 1 to 100' },
    (c, v) => (c.failures = v),
  ),
  'failback-hold': single(
    { parse: parseFailback, expect: 'a duration or `never`' },
    (c, v) => (c.failbackHold = v),
  ),
  'staging-dir': single(
    pattern(/^\//, 'an absolute path'),
    (c, v) => (c.stagingDir = v),
  ),
  mounter: single(
    { ...oneOf(['nfs', 'bind'] as const), expect: 'nfs or bind' },
    (c, v) => (c.mounter = v),
  ),
  'rpc-versions': single(
    { parse: parseVersions, expect: 'a list of 2, 3 or 4 (e.g. 3,4)' },
    (c, v) => (c.rpcVersions = v),
  ),
  'rpc-port': single(
    { ...int(1, 65535), expect: 'a port from 1 to 65535' },
    (c, v) => (c.rpcPort = v),
  ),
  'rsync-path': single(text, (c, v) => (c.rsyncPath = v)),
}

/** What the list directives add to. */
interface Lists {
  readonly c: Draft
  readonly bindMap: Record<string, string>
  readonly syncs: SyncSpec[]
}

/** A directive of several words that adds to a list (CONTRIBUTING.md "Config"). */
type ListDirective = (
  into: Lists,
  at: SourceLine,
  args: readonly string[],
  issues: IssueList,
) => void

/** `sync <source dir> <target>`: a directory kept copied to the peer. */
const syncLine: ListDirective = ({ syncs }, at, args, issues) => {
  if (args.length !== 2) {
    issues.error(at, 'sync: expected `sync <source dir> <target>`', at.text)
    return
  }
  const [source, target] = args as [string, string]
  if (!source.startsWith('/'))
    issues.error(at, 'sync: source must be an absolute path', source)
  else if (
    !/^(\/|rsync:\/\/[^/]|([A-Za-z0-9._@-]+|\[[0-9A-Fa-f:.]+\]):\/(?!\/))/.test(
      target,
    )
  ) {
    issues.error(
      at,
      'sync: target must be /dir, host:/dir or rsync://host/module/dir',
      target,
    )
  } else syncs.push({ source, target, line: at.line })
}

/** `bind-map <server>:/<export> /<local dir>`: what `mounter bind` mounts. */
const bindMapLine: ListDirective = ({ bindMap }, at, args, issues) => {
  if (args.length !== 2 || !args[1]?.startsWith('/')) {
    issues.error(
      at,
      'bind-map: expected `bind-map <server>:/<export> /<local dir>`',
      at.text,
    )
  } else bindMap[args[0] as string] = args[1]
}

const LISTS: Readonly<Record<string, ListDirective>> = {
  sync: syncLine,
  'bind-map': bindMapLine,
  // Any number of words, passed to rsync as they are.
  'rsync-args': ({ c }, _at, args) => {
    c.rsyncArgs = [...args]
  },
}

/** Parses the config text; never throws (the kit's one result shape). */
export function parseConfig(
  text: string,
  file: string,
): ConfigResult<HnmConfig> {
  const issues = new IssueList()
  const c: Draft = {
    file,
    ...DEFAULTS,
  }
  // Keyed by the file's words: no prototype, so `__proto__` is a plain key.
  const bindMap: Record<string, string> = Object.create(null) as Record<
    string,
    string
  >
  const rawMounts: RawMount[] = []
  const syncs: SyncSpec[] = []
  const seen = new Map<string, number>()

  for (const at of sourceLines(text, file, { issues })) {
    const words = splitWords(at.text)
    const [key, ...args] = words as [string, ...string[]]
    if (key.includes(':/') || /^[^\s]+:\//.test(key)) {
      rawMounts.push({ at, words })
      continue
    }
    const listed = lookupDirective(LISTS, key)
    if (listed) {
      listed({ c, bindMap, syncs }, at, args, issues)
      continue
    }
    const d = lookupDirective(SINGLE, key)
    if (!d) {
      issues.error(at, 'unknown directive', key)
      continue
    }
    if (args.length !== 1) {
      issues.error(at, `${key}: expected exactly one value`, args.join(' '))
      continue
    }
    const prev = seen.get(key)
    if (prev !== undefined)
      issues.warn(
        at,
        `${key} repeated (first at line ${prev}); the last one wins`,
      )
    seen.set(key, at.line)
    const raw = args[0] as string
    const v = d.type.parse(raw)
    if (v === undefined)
      issues.error(at, `${key}: expected ${d.type.expect}`, raw)
    else d.set(c, v)
  }

  // Unset, the probe timeout follows a short interval down.
  if (!seen.has('probe-timeout'))
    c.probeTimeout = Math.min(DEFAULTS.probeTimeout, c.interval)
  if (c.probeTimeout > c.interval) {
    issues.error(
      { file, line: seen.get('probe-timeout') ?? seen.get('interval') ?? 0 },
      'probe-timeout must not exceed interval',
      String(c.probeTimeout),
    )
  }
  if (c.syncRetryMax < c.syncRetryMin) {
    issues.error(
      { file, line: seen.get('sync-retry-max') ?? 0 },
      'sync-retry-max must not be below sync-retry-min',
      String(c.syncRetryMax),
    )
  }

  const mounts: MountSpec[] = []
  const points = new Map<string, number>()
  for (const { at, words } of rawMounts) {
    const m = parseMountLine(words, at, c, issues)
    if (!m) continue
    const dup = points.get(m.mountPoint)
    if (dup !== undefined) {
      issues.error(at, `mount point already used at line ${dup}`, m.mountPoint)
      continue
    }
    points.set(m.mountPoint, at.line)
    if (c.mounter === 'bind') {
      for (const s of m.servers) {
        const key = `${s}:${m.exportPath}`
        if (!Object.hasOwn(bindMap, key))
          issues.error(at, `mounter bind: no bind-map for ${key}`, key)
      }
    }
    mounts.push(m)
  }
  if (!mounts.length && !syncs.length) {
    issues.error(
      { file, line: 0 },
      'nothing to do: no mount line and no sync line',
    )
  }
  return configResult(issues, () =>
    deepFreeze({ ...c, bindMap, mounts, syncs }),
  )
}

function parseFailback(v: string): number | null | undefined {
  if (v === 'never') return null
  const ms = parseDuration(v, 'ms')
  return ms === undefined || ms > MAX_DURATION ? undefined : ms
}

function parseVersions(v: string): number[] | undefined {
  const parts = v.split(',')
  const out: number[] = []
  for (const p of parts) {
    const n = parseIntRange(p, 2, 4)
    if (n === undefined || out.includes(n)) return undefined
    out.push(n)
  }
  return out.length ? out : undefined
}

/** `a,b:/export` → servers and export; undefined when malformed (pure). */
export function parseSource(
  source: string,
): { servers: string[]; exportPath: string } | undefined {
  const i = source.indexOf(':/')
  if (i <= 0) return undefined
  const servers = source.slice(0, i).split(',')
  const exportPath = source.slice(i + 1)
  const host = /^([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])$/
  if (!servers.every(s => host.test(s))) return undefined
  if (new Set(servers).size !== servers.length) return undefined
  return { servers, exportPath }
}

function parseMountLine(
  words: string[],
  at: SourceLine,
  c: Omit<HnmConfig, 'mounts' | 'syncs' | 'bindMap'>,
  issues: IssueList,
): MountSpec | undefined {
  if (words.length < 2 || words.length > 3) {
    issues.error(
      at,
      'mount line: expected `server1,server2:/export /mount/point [options]`',
      at.text,
    )
    return undefined
  }
  const [source, mountPoint, opts] = words as [string, string, string?]
  const parsed = parseSource(source)
  if (!parsed) {
    issues.error(
      at,
      'mount source: expected server1[,server2...]:/export',
      source,
    )
    return undefined
  }
  if (!mountPoint.startsWith('/') || mountPoint === '/') {
    issues.error(
      at,
      'mount point: expected an absolute path other than /',
      mountPoint,
    )
    return undefined
  }
  let failures = c.failures
  let failbackHoldMs = c.failbackHold
  let rpcVersions = c.rpcVersions
  let rpcPort = c.rpcPort
  const nfsOptions: string[] = []
  for (const o of (opts ?? '').split(',').filter(Boolean)) {
    const [k, v = ''] = o.split('=', 2) as [string, string?]
    if (k === 'ha-failures') {
      const n = parseIntRange(v, 1, 100)
      if (n === undefined)
        issues.error(at, 'ha-failures: expected an integer from 1 to 100', v)
      else failures = n
    } else if (k === 'ha-failback') {
      const hold = parseFailback(v)
      if (hold === undefined)
        issues.error(at, 'ha-failback: expected a duration or `never`', v)
      else failbackHoldMs = hold
    } else if (k === 'ha-versions') {
      const vs = parseVersions(v)
      if (!vs) issues.error(at, 'ha-versions: expected a list of 2, 3 or 4', v)
      else rpcVersions = vs
    } else if (k.startsWith('ha-')) {
      issues.error(at, 'unknown ha- option', o)
    } else {
      if (k === 'port') {
        const n = parseIntRange(v, 1, 65535)
        if (n === undefined)
          issues.error(at, 'port: expected a port from 1 to 65535', v)
        else rpcPort = n
      }
      if (k === 'vers' || k === 'nfsvers') {
        const n = parseIntRange(v.split('.')[0] ?? '', 2, 4)
        if (n !== undefined) rpcVersions = [n]
      }
      nfsOptions.push(o)
    }
  }
  return {
    source,
    servers: parsed.servers,
    exportPath: parsed.exportPath,
    mountPoint: trimSlashes(mountPoint),
    nfsOptions,
    failures,
    failbackHoldMs,
    rpcVersions,
    rpcPort,
    line: at.line,
  }
}

/**
 * Drops trailing slashes by scanning back once: /\/+$/ retried from every
 * slash of a long run (quadratic).
 */
function trimSlashes(path: string): string {
  let end = path.length
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--
  return path.slice(0, end)
}

export async function loadConfig(path: string): Promise<HnmConfig> {
  return configOrThrow(parseConfig(await readConfigFile(path), path))
}
