// Runs heartbeat-style resource agents: `agent [arg ...] start|stop|status`,
// exit 0 = success. A group starts left to right; if one resource fails
// the ones already started are stopped again (right to left) so the peer
// can take a clean group. Stop goes right to left and keeps going past
// failures so as much as possible is released.

import { spawn } from 'node:child_process'
import type { Logger } from '@has/daemon-kit'
import type { Resource, ResourceGroup } from './haresources.js'

export type AgentOp = 'start' | 'stop' | 'status'

export interface AgentResult {
  readonly ok: boolean
  readonly code: number | null
  readonly ms: number
  readonly output: string
  /** performance.now() when the address was up and first announced (native IPaddr). */
  readonly marks?: { readonly added: number; readonly announced: number }
}

/** Runs an operation in-process, or resolves undefined to run the script. */
export interface NativeAgent {
  run(r: Resource, op: AgentOp): Promise<AgentResult | undefined>
}

export interface AgentRunner {
  run(r: Resource, op: AgentOp): Promise<AgentResult>
}

export function createAgentRunner(opts: {
  agents: Readonly<Record<string, string>>
  env: NodeJS.ProcessEnv
  timeoutMs?: number
  /** In-process agents by name, used while `agents` names the given script. */
  native?: Readonly<Record<string, { script: string; agent: NativeAgent }>>
}): AgentRunner {
  const timeoutMs = opts.timeoutMs ?? 30_000
  const script = createScriptRunner(opts.agents, opts.env, timeoutMs)
  return {
    async run(r, op) {
      const n = opts.native?.[r.agent]
      // An operator's own agent of the same name (resource_dir) wins.
      if (n && opts.agents[r.agent] === n.script) {
        const res = await n.agent.run(r, op)
        if (res) return res
      }
      return script.run(r, op)
    },
  }
}

function createScriptRunner(
  agents: Readonly<Record<string, string>>,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): AgentRunner {
  const opts = { agents, env }
  return {
    run(r, op) {
      const t0 = performance.now()
      return new Promise(resolve => {
        const path = opts.agents[r.agent]
        if (!path) {
          resolve({
            ok: false,
            code: null,
            ms: 0,
            output: `no agent ${r.agent}`,
          })
          return
        }
        const child = spawn(path, [...r.args, op], {
          env: { ...process.env, ...opts.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let output = ''
        const take = (c: Buffer): void => {
          if (output.length < 4096) output += c.toString()
        }
        child.stdout.on('data', take)
        child.stderr.on('data', take)
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
        child.on('error', err => (output += String(err)))
        child.on('close', code => {
          clearTimeout(timer)
          resolve({
            ok: code === 0,
            code,
            ms: Math.round(performance.now() - t0),
            output: output.trim(),
          })
        })
      })
    },
  }
}

export async function startGroup(
  g: ResourceGroup,
  runner: AgentRunner,
  log: Logger,
  onResult?: (r: Resource, res: AgentResult) => void,
): Promise<boolean> {
  const done: Resource[] = []
  for (const r of g.resources) {
    const res = await runner.run(r, 'start')
    onResult?.(r, res)
    log.info(
      {
        group: g.name,
        resource: r.spec,
        op: 'start',
        ok: res.ok,
        ms: res.ms,
        output: res.output || undefined,
      },
      'resource agent',
    )
    if (!res.ok) {
      for (const d of [r, ...done.reverse()]) await runner.run(d, 'stop')
      return false
    }
    done.push(r)
  }
  return true
}

export async function stopGroup(
  g: ResourceGroup,
  runner: AgentRunner,
  log: Logger,
): Promise<boolean> {
  let ok = true
  for (const r of [...g.resources].reverse()) {
    const res = await runner.run(r, 'stop')
    log.info(
      {
        group: g.name,
        resource: r.spec,
        op: 'stop',
        ok: res.ok,
        ms: res.ms,
        output: res.output || undefined,
      },
      'resource agent',
    )
    ok &&= res.ok
  }
  return ok
}
