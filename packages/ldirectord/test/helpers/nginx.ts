// Real nginx instances on loopback for the checks: generated config,
// pid/logs/temp inside a temp dir, listen 127.0.0.x:<free port>, started
// in the foreground and killed by PID.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { join } from 'node:path'
import { portOf } from '@has/test-support'

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = createServer()
  await new Promise<void>(r => s.listen(0, host, r))
  const port = portOf(s)
  await new Promise(r => s.close(r))
  return port
}

export interface Nginx {
  readonly host: string
  readonly port: number
  readonly dir: string
  start(): Promise<void>
  stop(): Promise<void>
}

async function waitListening(
  host: string,
  port: number,
  deadline: number,
): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>(r => {
      const s = connect(port, host)
      s.once('connect', () => (s.destroy(), r(true)))
      s.once('error', () => r(false))
    })
    if (ok) return
    if (Date.now() > deadline)
      throw new Error(`nginx on ${host}:${port} did not start`)
    // Polling a just-spawned server's port: there is no event to wait on.
    await new Promise(r => setTimeout(r, 20))
  }
}

/** An nginx serving `body` at /index.html (and /). */
export async function makeNginx(
  dir: string,
  host: string,
  body: string,
): Promise<Nginx> {
  mkdirSync(join(dir, 'html'), { recursive: true })
  mkdirSync(join(dir, 'tmp'), { recursive: true })
  writeFileSync(join(dir, 'html', 'index.html'), body)
  const port = await freePort(host)
  const conf = join(dir, 'nginx.conf')
  writeFileSync(
    conf,
    // As root, workers would drop to nobody and could not read a docroot
    // inside a checkout under a 0700 directory (mktemp -d): keep them root.
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen ${host.includes(':') ? `[${host}]` : host}:${port};
    root ${dir}/html;
    location = /health503 { return 503; }
    location = /host { return 200 "host=$http_host"; }
  }
}
`,
  )
  let child: ChildProcess | undefined
  return {
    host,
    port,
    dir,
    async start() {
      child = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], {
        stdio: 'ignore',
      })
      await waitListening(host, port, Date.now() + 10_000)
    },
    async stop() {
      const c = child
      child = undefined
      if (!c || c.exitCode !== null || c.signalCode !== null) return
      const exited = new Promise(r => c.once('exit', r))
      // SIGTERM is nginx's fast shutdown: the listener goes at once.
      c.kill('SIGTERM')
      await exited
    },
  }
}
