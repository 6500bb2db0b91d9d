// The only place the data plane runs programs: `nft` (rulesets on stdin,
// JSON listings) and `conntrack -L`. Capability checks live here too so
// the refusal is clear before nft's own "Operation not permitted".

import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'

export interface ExecResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export type Exec = (
  cmd: string,
  args: readonly string[],
  stdin?: string,
) => Promise<ExecResult>

export const execProgram: Exec = (cmd, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.once('error', reject)
    child.once('close', code => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.on('error', () => undefined)
    child.stdin.end(stdin ?? '')
  })

const CAP_NET_ADMIN = 12n

/** True when the effective capability set holds CAP_NET_ADMIN. */
export function hasNetAdmin(statusText?: string): boolean {
  let text = statusText
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8')
    } catch {
      return process.getuid?.() === 0
    }
  }
  const m = /^CapEff:\s*([0-9a-f]+)/m.exec(text)
  if (!m) return false
  return ((BigInt(`0x${m[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n
}

/** The sysctl that lets this namespace forward the service's family. */
export function forwardingSysctl(family: 4 | 6): string {
  return family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward'
}

/**
 * Reads a sysctl through `exec`, so it is read in the namespace nft runs in
 * (the tests aim exec at a namespace). Undefined when it cannot be read.
 */
export async function readSysctl(
  exec: Exec,
  name: string,
): Promise<string | undefined> {
  const r = await exec('sysctl', ['-n', name]).catch(() => undefined)
  return r?.code === 0 ? r.stdout.trim() : undefined
}
