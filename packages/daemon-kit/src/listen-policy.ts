// Who may reach a daemon's control socket and /metrics. Neither has
// authentication: a TCP control socket gives its commands to every local
// user, and on a non-loopback address to the whole network. So both refuse
// a non-loopback address unless the operator allows it explicitly
// (`--control-allow-remote`, `--metrics-allow-remote`).

import { isIP } from 'node:net'
import { kitError } from './errors.js'

/** True for 127.0.0.0/8, ::1, ::ffff:127.x.y.z and the name `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) {
    if (h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h)) return true
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)
    return mapped !== null && (mapped[1] as string).startsWith('127.')
  }
  return false
}

// The CLI records the operator's explicit consent here (see addDaemonOptions)
// so every daemon honours the flags without each one passing them through.
const permitted = new Set<string>()

/** Allows a non-loopback `what` listener on exactly this address (the CLI flags). */
export function permitRemoteListen(
  what: 'control' | 'metrics',
  address: string,
): void {
  permitted.add(`${what} ${address}`)
}

/**
 * Throws KIT_ERR_LISTEN_REMOTE when `host` is not loopback and neither
 * `allowRemote` nor an earlier permitRemoteListen(address) allows it.
 */
export function checkListenHost(
  what: 'control' | 'metrics',
  address: string,
  host: string,
  allowRemote = false,
): void {
  if (
    isLoopbackHost(host) ||
    allowRemote ||
    permitted.has(`${what} ${address}`)
  )
    return
  throw kitError('KIT_ERR_LISTEN_REMOTE', what, address, what)
}
