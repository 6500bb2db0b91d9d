// Issue 19.7, client side: a control client refuses a Unix socket that
// someone other than root or the caller could have put there. Real sockets (startControlServer) in real directories; the
// "other user" cases chown to an unused uid, so they run as root only.

import t, { type Test } from 'tap'
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import {
  startControlServer,
  controlRequest,
  type ControlServer,
} from '../src/control.js'
import { allowUnsafeControlPaths } from '../src/control-peer.js'
import { addControlOption } from '../src/cli-kit.js'

const isRoot = process.getuid?.() === 0
const OTHER_UID = 54_321

/** A control server in `dir` (created with `mode`) answering `status` and counting calls. */
async function serverIn(
  t: Test,
  dir: string,
  mode: number,
): Promise<{ srv: ControlServer; calls: () => number }> {
  mkdirSync(dir, { recursive: true })
  chmodSync(dir, mode)
  let n = 0
  const srv = await startControlServer({
    address: join(dir, 'd.sock'),
    handlers: { status: () => (n++, { ok: 1 }) },
  })
  t.teardown(() => srv.close())
  return { srv, calls: () => n }
}

/** A short private directory (socket paths are limited to 107 bytes). */
function shortDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'cp-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  return d
}

const UNSAFE = { code: 'KIT_ERR_CONTROL_UNSAFE' }

t.test(
  'a socket in a directory others may write (no sticky bit) is refused, before sending anything',
  async t => {
    const { srv, calls } = await serverIn(t, join(shortDir(t), 'shared'), 0o777)
    await t.rejects(controlRequest(srv.address, 'status'), {
      ...UNSAFE,
      message: new RegExp(
        `refusing to talk to control socket ${srv.address}: its directory .*shared \\(mode 0777\\) is writable by group or others without the sticky bit.*--control-allow-unsafe`,
      ),
    })
    t.equal(calls(), 0, 'the command never reached the socket')
    t.same(
      await controlRequest(srv.address, 'status', [], 5000, {
        allowUnsafePath: true,
      }),
      { ok: 1 },
      'explicit override (library)',
    )
    process.env.HAS_CONTROL_ALLOW_UNSAFE = '1'
    t.teardown(() => delete process.env.HAS_CONTROL_ALLOW_UNSAFE)
    t.same(
      await controlRequest(srv.address, 'status'),
      { ok: 1 },
      'explicit override (environment)',
    )
  },
)

t.test(
  'group-writable with the sticky bit (/run/has 1775), private 0700 and /tmp-like 1777 directories are fine',
  async t => {
    const base = shortDir(t)
    for (const [name, mode] of [
      ['sticky', 0o1775],
      ['private', 0o700],
      ['tmp', 0o1777],
    ] as const) {
      const { srv } = await serverIn(t, join(base, name), mode)
      t.same(
        await controlRequest(srv.address, 'status'),
        { ok: 1 },
        `${name} ${mode.toString(8)}`,
      )
    }
  },
)

t.test(
  'a symbolic link at the socket path is refused; a link in the directory path (/var/run) is not',
  async t => {
    const base = shortDir(t)
    const { srv } = await serverIn(t, join(base, 'real'), 0o755)
    const link = join(base, 'link.sock')
    symlinkSync(srv.address, link)
    await t.rejects(controlRequest(link, 'status'), {
      ...UNSAFE,
      message: /it is a symbolic link/,
    })
    symlinkSync(join(base, 'real'), join(base, 'run'))
    t.same(
      await controlRequest(join(base, 'run', 'd.sock'), 'status'),
      { ok: 1 },
      'directory reached through a link',
    )
  },
)

t.test(
  'a missing socket is still "unreachable"; a file that is not a socket is refused',
  async t => {
    const dir = shortDir(t)
    writeFileSync(join(dir, 'plain.sock'), 'x')
    await t.rejects(
      controlRequest(join(dir, 'none.sock'), 'status', [], 1000),
      { code: 'KIT_ERR_CONTROL_UNREACHABLE' },
    )
    await t.rejects(
      controlRequest(join(dir, 'plain.sock'), 'status', [], 1000),
      { ...UNSAFE, message: /not a socket/ },
    )
  },
)

t.test(
  'a socket or directory that belongs to another user is refused',
  { skip: !isRoot && 'needs root (chown)' },
  async t => {
    const base = shortDir(t)
    const a = await serverIn(t, join(base, 'a'), 0o1775)
    chownSync(a.srv.address, OTHER_UID, 0)
    await t.rejects(controlRequest(a.srv.address, 'status'), {
      ...UNSAFE,
      message: new RegExp(`it belongs to uid ${OTHER_UID}`),
    })
    const b = await serverIn(t, join(base, 'b'), 0o755)
    chownSync(join(base, 'b'), OTHER_UID, 0)
    await t.rejects(controlRequest(b.srv.address, 'status'), {
      ...UNSAFE,
      message: new RegExp(`directory .* belongs to uid ${OTHER_UID}`),
    })
  },
)

t.test(
  'CLI: --control-allow-unsafe on a status subcommand is the explicit override',
  async t => {
    const { srv } = await serverIn(t, join(shortDir(t), 'shared'), 0o777)
    t.teardown(() => allowUnsafeControlPaths(false))
    const run = async (argv: string[]): Promise<unknown> => {
      let out: unknown
      const program = new Command('d').exitOverride()
      const status = addControlOption(
        new Command('status'),
        '/nonexistent.sock',
      ).action(async (o: { control: string }) => {
        out = await controlRequest(o.control, 'status')
      })
      program.addCommand(status)
      await program.parseAsync(['node', 'd', ...argv])
      return out
    }
    await t.rejects(run(['status', '--control', srv.address]), UNSAFE)
    t.same(
      await run(['status', '--control', srv.address, '--control-allow-unsafe']),
      { ok: 1 },
    )
  },
)
