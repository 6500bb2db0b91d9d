// What a namespace benchmark sets up and must take down again: its
// namespaces (named after the bench and its PID, so two runs never
// collide), the processes it starts in them, and a scratch directory.
// Everything goes at exit, on ^C and on SIGTERM: processes by PID, then
// the namespaces (and whatever still runs in them), then the directory.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * @param {string} tag  short name: namespace prefix `<tag><pid>` and the
 *   scratch directory `has-bench-<tag>-*`
 */
export function netnsBench(tag) {
  const P = `${tag}${process.pid % 10000}`
  const made = []
  const children = new Set()
  const dir = mkdtempSync(join(tmpdir(), `has-bench-${tag}-`))
  const sh = (cmd, args, input) =>
    execFileSync(cmd, args, {
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
  const ip = (ns, ...a) => sh('ip', ['-n', ns, ...a])
  const nsx = (ns, cmd, ...a) => sh('ip', ['netns', 'exec', ns, cmd, ...a])

  /** Kills `child` at the end unless it exits first. */
  const track = child => {
    children.add(child)
    child.once('exit', () => children.delete(child))
    return child
  }
  /** Starts cmd in a namespace; with `output`, its stdout+stderr collect in `.output`. */
  const spawnIn = (ns, cmd, args, { output = false } = {}) => {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: output ? ['ignore', 'pipe', 'pipe'] : 'ignore',
    })
    if (output) {
      c.output = ''
      c.stdout.on('data', d => (c.output += d))
      c.stderr.on('data', d => (c.output += d))
    }
    return track(c)
  }
  const addNs = name => {
    const ns = `${P}-${name}`
    sh('ip', ['netns', 'add', ns])
    made.push(ns)
    ip(ns, 'link', 'set', 'lo', 'up')
    return ns
  }
  let bridgePorts = 0
  /** A veth from `ns` (named `ifname` there) to a port of bridge br0 in `br`. */
  const plug = (ns, ifname, br) => {
    const peer = `${P}b${bridgePorts++}`
    sh('ip', [
      'link',
      'add',
      ifname,
      'netns',
      ns,
      'type',
      'veth',
      'peer',
      'name',
      peer,
      'netns',
      br,
    ])
    ip(br, 'link', 'set', peer, 'master', 'br0')
    ip(br, 'link', 'set', peer, 'up')
    return peer
  }
  const cleanup = () => {
    for (const c of children)
      try {
        c.kill('SIGKILL')
      } catch {}
    for (const ns of made.reverse()) {
      try {
        for (const pid of sh('ip', ['netns', 'pids', ns])
          .split(/\s+/)
          .filter(Boolean))
          try {
            process.kill(Number(pid), 'SIGKILL')
          } catch {}
      } catch {}
      try {
        sh('ip', ['netns', 'del', ns])
      } catch {}
    }
    made.length = 0
    rmSync(dir, { recursive: true, force: true })
  }
  process.on('exit', cleanup)
  process.on('SIGINT', () => process.exit(130))
  process.on('SIGTERM', () => process.exit(143))
  return { P, dir, made, sh, ip, nsx, track, spawnIn, addNs, plug, cleanup }
}
