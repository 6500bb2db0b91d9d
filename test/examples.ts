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

for (const role of ROLES) {
  for (const pkg of (await readdir(join(ROOT, 'examples', role))).sort()) {
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
