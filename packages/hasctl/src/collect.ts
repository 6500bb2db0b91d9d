// Reading the sources: each local daemon's control socket (`status`,
// `version`, and conn-syncd's `flows` for its backlog) and each remote
// daemon's --metrics listener (/metrics names the daemon in has_build_info,
// /status is the same JSON its `status` command gives). Never throws: a
// source that does not answer becomes a reading that says why.

import { controlRequest, hasCode } from '@has/daemon-kit'
import { isDaemonName, type DaemonName } from './daemons.js'

export interface Reading {
  readonly daemon: DaemonName | null
  /** `local`, or the remote host:port. */
  readonly where: string
  /** Socket path or URL asked. */
  readonly address: string
  readonly ok: boolean
  /** Why there is no status: `not running`, a timeout, an error answer. */
  readonly error?: string
  readonly version?: string
  readonly status?: unknown
  /** conn-syncd without kernelPending in its status: held entries not in the kernel (from `flows`). */
  readonly backlog?: number
}

function describe(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e)
  // A missing socket or a refused connection is a daemon that is not running.
  if (
    hasCode(e) &&
    e.code === 'KIT_ERR_CONTROL_UNREACHABLE' &&
    /ENOENT|ECONNREFUSED/.test(text)
  ) {
    return 'not running'
  }
  return hasCode(e) ? `${e.code}: ${text}` : text
}

export async function readLocal(
  daemon: DaemonName,
  address: string,
  timeoutMs: number,
): Promise<Reading> {
  try {
    const [status, version] = await Promise.all([
      controlRequest(address, 'status', [], timeoutMs),
      controlRequest(address, 'version', [], timeoutMs).catch(() => undefined),
    ])
    let backlog: number | undefined
    // Older conn-syncd without `kernelPending` in its status: count `flows`.
    if (
      daemon === 'conn-syncd' &&
      typeof (status as { kernelPending?: unknown } | null)?.kernelPending !==
        'number'
    ) {
      const flows = await controlRequest(address, 'flows', [], timeoutMs).catch(
        () => undefined,
      )
      if (Array.isArray(flows))
        backlog = flows.filter(
          f => !(f as { inKernel?: unknown }).inKernel,
        ).length
    }
    const v = (version as { version?: unknown } | undefined)?.version
    return {
      daemon,
      where: 'local',
      address,
      ok: true,
      status,
      ...(typeof v === 'string' ? { version: v } : {}),
      ...(backlog !== undefined ? { backlog } : {}),
    }
  } catch (e) {
    return { daemon, where: 'local', address, ok: false, error: describe(e) }
  }
}

async function httpGet(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return res.text()
}

/** `has_build_info{daemon="x",version="y"} 1` → daemon and version (pure). */
export function buildInfo(
  metrics: string,
): { daemon: string; version: string } | undefined {
  const m = /^has_build_info\{([^}]*)\}/m.exec(metrics)
  if (!m) return undefined
  const labels = Object.fromEntries(
    [...(m[1] as string).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(l => [
      l[1],
      l[2],
    ]),
  ) as Record<string, string | undefined>
  return labels.daemon
    ? { daemon: labels.daemon, version: labels.version ?? '' }
    : undefined
}

export async function readRemote(
  hostPort: string,
  timeoutMs: number,
): Promise<Reading> {
  const base = `http://${hostPort}`
  try {
    const [metrics, status] = await Promise.all([
      httpGet(`${base}/metrics`, timeoutMs),
      httpGet(`${base}/status`, timeoutMs),
    ])
    const info = buildInfo(metrics)
    const daemon = info && isDaemonName(info.daemon) ? info.daemon : null
    if (!daemon) {
      return {
        daemon: null,
        where: hostPort,
        address: base,
        ok: false,
        error: 'no has_build_info: not a has daemon',
      }
    }
    return {
      daemon,
      where: hostPort,
      address: base,
      ok: true,
      version: info?.version ?? '',
      status: JSON.parse(status),
    }
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code
    const text =
      cause === 'ECONNREFUSED'
        ? 'not running (connection refused)'
        : describe(e)
    return {
      daemon: null,
      where: hostPort,
      address: base,
      ok: false,
      error: text,
    }
  }
}
