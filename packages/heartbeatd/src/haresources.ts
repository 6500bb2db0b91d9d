// haresources: one resource group per line, `node res1 res2::arg ...`.
// The node is the group's preferred ("home") node; resources start left to
// right and stop right to left. A bare IP address means IPaddr::address,
// as in heartbeat.

import { isIP } from 'node:net'
import {
  IssueList,
  sourceLines,
  splitWords,
  type Position,
} from '@has/daemon-kit'

export interface Resource {
  readonly agent: string
  readonly args: readonly string[]
  /** As written, for logs. */
  readonly spec: string
}

export interface ResourceGroup {
  /** Group name = its home node (the PROTOCOL.md RESOURCE token). */
  readonly name: string
  readonly home: string
  readonly resources: readonly Resource[]
  readonly at: Position
}

const AGENT_NAME = /^[A-Za-z0-9_.+-]+$/

export function parseResource(spec: string): Resource | undefined {
  const bare = spec.split('/')[0] ?? ''
  if (isIP(bare)) return { agent: 'IPaddr', args: [spec], spec }
  const [agent = '', ...args] = spec.split('::')
  if (!AGENT_NAME.test(agent) || args.some(a => a === '')) return undefined
  return { agent, args, spec }
}

export function parseHaresources(
  text: string,
  file: string,
  nodes: readonly string[],
  issues: IssueList,
): ResourceGroup[] {
  const groups: ResourceGroup[] = []
  for (const l of sourceLines(text, file)) {
    const [home = '', ...specs] = splitWords(l.text)
    if (!nodes.includes(home)) {
      issues.error(
        l,
        `first word must be a node from ha.cf (${nodes.join(', ')})`,
        home,
      )
      continue
    }
    if (groups.some(g => g.home === home)) {
      issues.error(
        l,
        'a node may be home of one group only (merge the lines)',
        home,
      )
      continue
    }
    if (specs.length === 0) {
      issues.error(l, 'no resources after the node name', l.text)
      continue
    }
    const resources: Resource[] = []
    for (const s of specs) {
      const r = parseResource(s)
      if (!r)
        issues.error(
          l,
          'bad resource; expected agent[::arg...] or an IP address',
          s,
        )
      else resources.push(r)
    }
    groups.push({
      name: home,
      home,
      resources,
      at: { file: l.file, line: l.line },
    })
  }
  return groups
}
