// Issue 18.13: closing the demo's terminal (SIGHUP) left traffic-manager,
// its proxy worker and four traffic-clients running, orphaned. Now the demo
// stops everything on SIGHUP and SIGTERM, and every child watches a pipe
// from the demo (examples/local-cluster/leash.mjs) so none outlives a demo
// killed outright. Needs no root.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, waitFor } from '@has/test-support'

/** Every live descendant of `root`, from /proc (ppid links). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      // pid (comm) state ppid ...; comm may hold spaces and parentheses.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (rest[0] === 'Z') continue
      parent.set(Number(d), Number(rest[1]))
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const [pid, pp] of parent)
      if (pp === p) {
        out.push(pid)
        walk(pid)
      }
  }
  walk(root)
  return out
}

function alive(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return s.slice(s.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .join(' ')
      .slice(0, 160)
  } catch {
    return '?'
  }
}

async function until(
  what: string,
  pred: () => boolean,
  ms: number,
): Promise<void> {
  await waitFor(pred, { what, timeoutMs: ms, intervalMs: 100 })
}

// 4 web servers + 4 traffic-clients + traffic-manager + its proxy worker.
const EXPECTED = 10

for (const signal of ['SIGHUP', 'SIGKILL'] as const) {
  t.test(`demo ${signal}: every child is gone within 20 s`, async t => {
    const demo = spawn(
      process.execPath,
      [
        join(ROOT, 'examples', 'local-cluster', 'demo.js'),
        '--seconds',
        '60',
        '--plain',
      ],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    const pid = demo.pid as number
    let kids: number[] = []
    t.teardown(() => {
      for (const k of kids) if (alive(k)) process.kill(k, 'SIGKILL')
      if (alive(pid)) process.kill(pid, 'SIGKILL')
    })
    // Running for real: the first status table is printed once every node reported.
    let out = ''
    demo.stdout.on('data', (c: Buffer) => (out += c.toString()))
    let err = ''
    demo.stderr.on('data', (c: Buffer) => (err += c.toString()))
    await until(
      'the demo to print its table',
      () => {
        if (demo.exitCode !== null)
          throw new Error(`demo exited ${demo.exitCode}: ${err.slice(-500)}`)
        return out.includes('has demo')
      },
      60_000,
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}; stdout: ${out.slice(-300)} stderr: ${err.slice(-300)}`,
      )
    })
    await until(
      `${EXPECTED} demo children`,
      () => (kids = descendants(pid)).length >= EXPECTED,
      30_000,
    )
    kids = descendants(pid)
    process.kill(pid, signal)
    await until('the demo to exit', () => !alive(pid), 15_000)
    const left = (): string =>
      kids
        .filter(alive)
        .map(k => `${k} ${cmdline(k)}`)
        .join('; ')
    await until(
      'every child to exit',
      () => kids.every(k => !alive(k)),
      20_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; still running: ${left()}`)
    })
    t.same(kids.filter(alive), [], `all ${kids.length} children gone`)
  })
}
