// `heartbeatd --release-resources`: stop every haresources group on this
// node (right to left, every resource, past failures) and exit. For
// systemd's ExecStopPost=, which runs after the daemon exits for any reason,
// a kill -9 or a crash included: the VIP must not stay on a node whose
// heartbeatd is gone while the peer takes it over. Uses the agents' scripts
// (no long-lived helpers: this process lives for one release).

import { mkdirSync } from 'node:fs'
import type { Logger } from '@has/daemon-kit'
import type { Config } from './config.js'
import { createAgentRunner, stopGroup } from './resources.js'

/** Resolves true when every resource of every group stopped. */
export async function releaseResources(
  config: Config,
  log: Logger,
): Promise<boolean> {
  mkdirSync(config.stateDir, { recursive: true })
  const runner = createAgentRunner({
    agents: config.agents,
    env: { HA_RSCTMP: config.stateDir, HA_NODE: config.localNode },
  })
  let ok = true
  for (const g of [...config.groups].reverse())
    ok = (await stopGroup(g, runner, log)) && ok
  return ok
}
