// The per-role examples must stay loadable: every config file in
// examples/<role>/<daemon>/ passes its daemon's --check-config, and every
// systemd unit starts a binary we ship with options that binary accepts.
// Key files and other paths under /etc are redirected to a scratch copy, so
// this checks the examples, not this machine's /etc.

import t from 'tap'
import { execFile } from 'node:child_process'
import {
  chmod,
  cp,
  mkdtemp,
  readFile,
  readdir,
  rm,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT, binPath } from '@has/test-support'

const run = promisify(execFile)
const NOT_CONFIG = /\.service$|\.socket$|^README|^authkeys$|^haresources$/
const ROLES = ['master-node', 'traffic-node']

const scratch = await mkdtemp(join(tmpdir(), 'has-examples-'))
t.teardown(() => rm(scratch, { recursive: true, force: true }))

async function checkConfig(
  pkg: string,
  file: string,
): Promise<{ code: number; out: string }> {
  const args = [binPath(pkg), '--config', file, '--check-config']
  if (pkg === 'heartbeatd') args.push('--node', 'master1')
  try {
    const r = await run(process.execPath, args)
    return { code: 0, out: r.stdout + r.stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, out: err.stdout + err.stderr }
  }
}

const PACKAGES = await readdir(join(ROOT, 'packages'))

for (const role of ROLES) {
  for (const pkg of (await readdir(join(ROOT, 'examples', role))).sort()) {
    // Units for other software on the role (nginx) are checked below.
    if (!PACKAGES.includes(pkg)) continue
    const src = join(ROOT, 'examples', role, pkg)
    const files = (await readdir(src)).sort()
    t.test(`${role}/${pkg}`, async t => {
      const dir = join(scratch, role, pkg)
      await cp(src, dir, { recursive: true })
      for (const f of files.filter(f => !NOT_CONFIG.test(f))) {
        // Point /etc paths (key files, authkeys) into the scratch copy and
        // create any missing key with owner-only mode, as an operator would.
        const text = (await readFile(join(dir, f), 'utf8')).replace(
          /\/etc\/(?:has|ha\.d)\//g,
          `${dir}/`,
        )
        await writeFile(join(dir, f), text)
        // The install step haresources asks for: conn-syncd's agent where heartbeatd looks.
        if (pkg === 'heartbeatd' && f === 'ha.cf')
          await writeFile(
            join(dir, f),
            `${text}\nresource_dir ${join(ROOT, 'packages/conn-syncd/resource.d')}\n`,
          )
        for (const m of text.matchAll(
          new RegExp(`${dir}/([\\w.-]+\\.key)`, 'g'),
        )) {
          await writeFile(
            join(dir, m[1] as string),
            'example-secret-0123456789abcdef\n',
          )
          await chmod(join(dir, m[1] as string), 0o600)
        }
        if (files.includes('authkeys'))
          await chmod(join(dir, 'authkeys'), 0o600)
        const r = await checkConfig(pkg, join(dir, f))
        t.equal(r.code, 0, `${f} passes --check-config`, { out: r.out })
      }
      for (const unit of files.filter(f => f.endsWith('.service'))) {
        const text = await readFile(join(src, unit), 'utf8')
        const starts = [
          ...text.matchAll(/^Exec(?:Start|StartPre|Reload)=(\S+)(.*)$/gm),
        ]
        t.ok(starts.length > 0, `${unit} has an ExecStart`)
        for (const [, exe, rest] of starts) {
          if (
            !(exe as string).startsWith('/usr/bin/') ||
            (exe as string) === '/usr/bin/env'
          )
            continue
          const bin = (exe as string).slice('/usr/bin/'.length)
          if (!(await readdir(join(ROOT, 'packages'))).includes(bin)) continue
          t.equal(bin, pkg, `${unit} starts ${bin}`)
          // Every long option the unit passes must be one the binary knows.
          const { stdout: help } = await run(process.execPath, [
            binPath(bin),
            '--help',
          ])
          for (const opt of (rest as string).matchAll(
            /(?:^|\s)(--[a-z][\w-]*)/g,
          )) {
            t.ok(
              help.includes(opt[1] as string),
              `${unit}: ${bin} accepts ${opt[1]}`,
            )
          }
        }
      }
    })
  }
}

// nginx takes the socket unit's sockets from the NGINX variable, by fd
// number: the drop-in must name fds 3.. one for each ListenStream=, in order.
t.test('traffic-node/nginx: the drop-in hands nginx every socket', async t => {
  const dir = join(ROOT, 'examples', 'traffic-node', 'nginx')
  const socket = await readFile(join(dir, 'nginx.socket'), 'utf8')
  const dropIn = await readFile(
    join(dir, 'nginx.service.d', 'has.conf'),
    'utf8',
  )
  const listens = [...socket.matchAll(/^ListenStream=(\S+)$/gm)].map(m => m[1])
  t.same(listens, ['0.0.0.0:80', '[::]:80'], 'the listen lines of nginx.conf')
  const env = /^Environment=NGINX=(\S+)$/m.exec(dropIn)?.[1]
  t.equal(env, listens.map((_, i) => `${i + 3};`).join(''), 'NGINX=3;4;')
  t.match(dropIn, /^Restart=on-failure$/m, 'nginx comes back on its own')
  t.match(socket, /^Service=nginx\.service$/m)
})
