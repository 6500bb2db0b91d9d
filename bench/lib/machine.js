// What a benchmark ran on: recorded with every result so figures from
// different machines are never compared by accident.
import { cpus, release, totalmem } from 'node:os'
import { execFileSync } from 'node:child_process'

function version(cmd, args, re) {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    return (re.exec(out) ?? [])[1] ?? out.split('\n')[0].trim()
  } catch (e) {
    const text = String(e.stderr ?? '')
    return (re.exec(text) ?? [])[1] ?? 'not found'
  }
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
    wrk: version('wrk', ['-v'], /wrk (\S+)/),
    keepalived: version('keepalived', ['-v'], /Keepalived v(\S+)/),
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
