// Reads the parts of a systemd unit the harness honours: the ExecStart
// command line (run exactly, /usr/bin/<daemon> mapped to the built binary),
// ExecStopPost= (same mapping), Restart=, RestartSec= and
// RestartPreventExitStatus=. Everything else
// (users, capabilities, sandboxing) is not emulated: the harness runs as
// root inside per-host namespaces.
import { existsSync, readFileSync } from 'node:fs'

/** Splits a systemd command line: whitespace, double and single quotes. */
export function splitCommand(line) {
  const out = []
  let cur = ''
  let quote = ''
  let any = false
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = ''
      else cur += ch
    } else if (ch === '"' || ch === "'") {
      quote = ch
      any = true
    } else if (/\s/.test(ch)) {
      if (cur || any) out.push(cur)
      cur = ''
      any = false
    } else cur += ch
  }
  if (quote) throw new Error(`unterminated quote in: ${line}`)
  if (cur || any) out.push(cur)
  return out
}

function seconds(v) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|min)?$/.exec(v.trim())
  if (!m) throw new Error(`RestartSec=${v}: not a duration`)
  const n = Number(m[1])
  return m[2] === 'ms' ? n : m[2] === 'min' ? n * 60_000 : n * 1000
}

/** The `Key=value` lines of a unit file or drop-in, in order. */
function* settings(text) {
  for (const raw of text.split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(raw.trim())
    if (m) yield [m[1], m[2]]
  }
}

export function parseUnit(text, file = '<unit>') {
  const unit = {
    file,
    execStart: undefined,
    execStopPost: [],
    restart: 'no',
    restartMs: 100,
    preventExit: [],
    requires: [],
  }
  for (const [key, value] of settings(text)) {
    if (key === 'ExecStart') unit.execStart = splitCommand(value)
    // Run after every exit, a crash too; a leading '-' ignores its failure.
    else if (key === 'ExecStopPost')
      unit.execStopPost.push(splitCommand(value.replace(/^-/, '')))
    else if (key === 'Restart') unit.restart = value.trim()
    else if (key === 'RestartSec') unit.restartMs = seconds(value)
    else if (key === 'Requires')
      unit.requires.push(...value.trim().split(/\s+/))
    else if (key === 'RestartPreventExitStatus')
      unit.preventExit = value.trim().split(/\s+/).map(Number)
  }
  if (!unit.execStart) throw new Error(`${file}: no ExecStart=`)
  return unit
}

/**
 * The settings of a drop-in (`<unit>.service.d/*.conf`) the harness
 * honours for a unit it starts itself (Debian's nginx.service): Restart=,
 * RestartSec= and Environment= (each NAME=value; quotes as systemd's).
 */
export function parseDropIn(text) {
  const out = { restart: undefined, restartMs: undefined, environment: [] }
  for (const [key, value] of settings(text)) {
    if (key === 'Restart') out.restart = value.trim()
    else if (key === 'RestartSec') out.restartMs = seconds(value)
    else if (key === 'Environment') out.environment.push(...splitCommand(value))
  }
  return out
}

export function readUnit(file) {
  const unit = parseUnit(readFileSync(file, 'utf8'), file)
  // A sibling .socket unit the service requires (socket activation): its
  // ListenStream= sockets are held across restarts and passed to every start
  // (supervisor.js). One it does not require is not started, as in systemd.
  const sock = file.replace(/\.service$/, '.socket')
  const name = sock.split('/').pop()
  if (sock !== file && existsSync(sock) && unit.requires.includes(name))
    unit.sockets = parseSocketUnit(readFileSync(sock, 'utf8'))
  return unit
}

/** ListenStream= lines of a .socket unit, each with its FileDescriptorName=. */
export function parseSocketUnit(text) {
  const listen = []
  let name = 'unknown'
  for (const [key, value] of settings(text)) {
    if (key === 'ListenStream') listen.push(value.trim())
    else if (key === 'FileDescriptorName') name = value.trim()
  }
  return listen.map(l => ({ name, listen: l }))
}

/**
 * Whether systemd would restart after this exit (systemd.service(5), the
 * Restart= table): clean = exit 0 or SIGHUP/SIGINT/SIGTERM/SIGPIPE.
 */
export function wouldRestart(unit, code, signal) {
  if (unit.restart === 'no') return false
  if (code !== null && unit.preventExit.includes(code)) return false
  const clean = signal
    ? ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE'].includes(signal)
    : code === 0
  if (unit.restart === 'always') return true
  if (unit.restart === 'on-failure') return !clean
  if (unit.restart === 'on-abnormal') return !!signal && !clean
  return false
}
