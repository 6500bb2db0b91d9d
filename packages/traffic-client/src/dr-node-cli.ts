// `traffic-client dr-node [--setup] <vip...>`: checks (or sets up) this
// node for traffic-manager's direct-routing data plane; meant for
// ExecStartPre= of the traffic-client unit. Exit 1 names what is wrong.

import type { Command } from 'commander'
import { EXIT, type CliIo } from '@has/daemon-kit'
import { checkDrNode, setupDrNode } from './dr-node.js'
import { tcError } from './errors.js'

export function addDrNodeCommand(
  program: Command,
  io: CliIo,
  state: { exitCode: number },
): void {
  program
    .command('dr-node')
    .description(
      'check (or with --setup, apply) the direct-routing set-up: VIPs on lo, arp_ignore=1, arp_announce=2',
    )
    .argument('<vip...>', 'the virtual IPs this node serves (IPv4 and/or IPv6)')
    .option('--setup', 'set the sysctls and add the VIPs to lo, then check')
    .action(async (vips: string[], o: { setup?: boolean }) => {
      const problems = o.setup
        ? await setupDrNode(vips)
        : await checkDrNode(vips)
      if (problems.length === 0) {
        io.out(`direct routing ready for ${vips.join(', ')}\n`)
        return
      }
      const err = tcError(
        'TC_ERR_DR_NODE',
        problems.map(p => p.message).join('; '),
      )
      io.err(`${err.code}: ${err.message}\n`)
      state.exitCode = EXIT.RUNTIME
    })
}
