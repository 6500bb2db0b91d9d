// What a benchmark ran on: recorded with every result so figures from
// different machines are never compared by accident.
import { cpus, release, totalmem, loadavg } from 'node:os'
import { spawnSync } from 'node:child_process'

// nginx and keepalived print their version on stderr and wrk exits 1 after
// `-v`, so read both streams whatever the exit code.
export function version(cmd, args, re) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 5000,
  })
  if (r.error?.code === 'ENOENT') return 'not found'
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`
  return re.exec(out)?.[1] ?? (out.trim().split('\n')[0] || 'unknown')
}

export function machine() {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    nginx: version('nginx', ['-v'], /nginx\/(\S+)/),
    haproxy: version('haproxy', ['-v'], /version (\S+)/),
    // "wrk debian/4.1.0-3+b2 [epoll]": keep the upstream version.
    wrk: version('wrk', ['-v'], /wrk (?:\S*\/)?(\d\S*)/),
    keepalived: version('keepalived', ['-v'], /Keepalived v(\S+)/),
    loadAverage: loadavg()
      .map(x => x.toFixed(2))
      .join(' '),
    date: new Date().toISOString(),
  }
}

export function machineMarkdown(m = machine()) {
  return [
    '| machine | value |',
    '| --- | --- |',
    ...Object.entries(m).map(([k, v]) => `| ${k} | ${v} |`),
  ].join('\n')
}
