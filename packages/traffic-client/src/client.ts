// The traffic client (thesis 3.22.5, 3.24.2): every `updates` ms it samples
// /proc, computes the load index and sends one LOAD datagram to each
// master over UDP; the load-report flag (pause/resume/drain) decides what
// it says; an optional agent-check port answers HAProxy. On close it sends
// a final `down` report so managers drop the node at once instead of
// waiting for their timeout. Owns sockets and timers; the logger is injected.

import { isIP } from 'node:net'
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised'
import {
  Registry,
  formatHostPort,
  silentLogger,
  type Logger,
  type ControlHandlers,
} from '@has/daemon-kit'
import { formatReport, type ReportState } from '@has/traffic-manager/protocol'
import { nodeFor, type Master, type TrafficClientConfig } from './config.js'
import { LoadSampler, type LoadOptions, type LoadSample } from './load-index.js'
import { procfsReaders, type ProcfsReaders } from './procfs.js'
import {
  FLAGS,
  nextFlag,
  reportFor,
  type Flag,
  type FlagCommand,
} from './flag.js'
import { agentReply } from './agent-check.js'
import { startAgentServer, type AgentServer } from './agent-server.js'
import { tcError } from './errors.js'
import { createClientMetrics } from './metrics.js'
import type { ErrorLogStream } from '@has/daemon-kit'

export const SENDER = 'tc'

export interface TrafficClientOptions {
  readonly config: TrafficClientConfig
  readonly logger?: Logger
  /** Report epoch for this start (the CLI passes daemon-kit senderEpoch()); default now(). */
  readonly epoch?: number
  /** Seam for tests: how a procfs directory is read. */
  readonly readers?: (procfs: string) => ProcfsReaders
  /** Reopened on start and on every reload with config.errorLog. */
  readonly errorLog?: ErrorLogStream
  readonly registry?: Registry
  readonly now?: () => number
}

/** The address a report to `m` leaves from: the node's of m's family, if any. */
function sourceFor(config: TrafficClientConfig, m: Master): string | undefined {
  const node = nodeFor(config, m)
  return isIP(node) === m.family ? node : undefined
}
const socketKey = (config: TrafficClientConfig, m: Master): string =>
  `${m.family}|${sourceFor(config, m) ?? ''}`

/** A family's report socket; `bound` false: unbound fallback, retried at retryAt. */
interface SourceSocket {
  socket: SocketAsPromised
  bound: boolean
  retryAt: number
}
const BIND_RETRY_MS = 10_000

interface MasterState {
  sent: number
  errors: number
  lastError?: string
  lastSentAt?: number
}

export interface SentReport {
  readonly at: number
  readonly seq: number
  readonly load: number
  readonly state: ReportState
}

export interface TrafficClientStatus {
  readonly node: string
  /** Every node address (dual stack: one per family). */
  readonly nodes: readonly string[]
  readonly formula: string
  readonly flag: Flag
  readonly epoch: number
  readonly seq: number
  /** Sampling rounds run (sent or not). */
  readonly rounds: number
  readonly updatesMs: number
  readonly signed: boolean
  readonly load: LoadSample | null
  readonly lastSent: (SentReport & { atIso: string }) | null
  readonly lastError: string | null
  readonly masters: readonly {
    name: string
    address: string
    sent: number
    errors: number
    lastError: string | null
    lastSent: string | null
  }[]
  readonly agent: string | null
}

export interface TrafficClient {
  start(): Promise<void>
  reload(config: TrafficClientConfig): Promise<void>
  /** Sends the final `down` report, closes sockets; idempotent. */
  close(): Promise<void>
  status(): TrafficClientStatus
  /** pause | resume | drain; returns the flag before and after. */
  setFlag(command: FlagCommand): Promise<{ previous: Flag; flag: Flag }>
  /** One sampling-and-report round now (also what the timer runs). */
  round(): Promise<void>
  readonly commands: ControlHandlers
  readonly registry: Registry
  readonly flag: Flag
  readonly agentAddress: { host: string; port: number } | undefined
}

export function createTrafficClient(opts: TrafficClientOptions): TrafficClient {
  const log = (opts.logger ?? silentLogger()).child({
    component: 'traffic-client',
  })
  const now = opts.now ?? Date.now
  const makeReaders = opts.readers ?? procfsReaders
  const registry = opts.registry ?? new Registry()
  const epoch = opts.epoch ?? now()

  const {
    sent,
    sendErrors,
    procErrors,
    agentAnswers,
    loadGauge,
    percentGauge,
    flagGauge,
  } = createClientMetrics(registry)

  let config = opts.config
  let sampler = new LoadSampler(makeReaders(config.procfs), loadOptions(config))
  let flag: Flag = 'report'
  let seq = 0
  let rounds = 0
  let sample: LoadSample | undefined
  let lastSent: SentReport | undefined
  let lastError: string | undefined
  const masterState = new Map<string, MasterState>()
  const sockets = new Map<string, SourceSocket>()
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> | undefined
  let agent: AgentServer | undefined
  let closing: Promise<void> | undefined

  const setFlagGauge = (): void => {
    for (const f of FLAGS) flagGauge.set({ flag: f }, f === flag ? 1 : 0)
  }
  setFlagGauge()

  // Opens in progress, by socket key (masters of a family share one).
  const opening = new Map<string, Promise<SocketAsPromised>>()

  // A report must leave from the address it names: the managers drop one
  // whose source differs (TM_ERR_REPORT_SOURCE), and a node with several
  // addresses of a family (SLAAC beside a static one, a VIP on lo) lets the
  // kernel pick another. So each family's socket is bound to the node's
  // address of that family. Where that address is not on the host (yet),
  // reports go out unbound, with a warning, and the bind is retried.
  function socketFor(m: Master): Promise<SocketAsPromised> {
    const bindTo = sourceFor(config, m)
    const k = socketKey(config, m)
    const entry = sockets.get(k)
    if (entry && (entry.bound || now() < entry.retryAt))
      return Promise.resolve(entry.socket)
    // Masters of one family are sent to in parallel: one open for them all.
    let p = opening.get(k)
    if (!p) {
      p = (async () => {
        const fresh = await openSocket(m.family, bindTo)
        if (entry) {
          if (!fresh.bound) {
            entry.retryAt = now() + BIND_RETRY_MS
            await fresh.socket.close().catch(() => {})
            return entry.socket
          }
          log.info(
            { address: bindTo },
            'reports leave from the node address again',
          )
          await entry.socket.close().catch(() => {})
        }
        sockets.set(k, fresh)
        return fresh.socket
      })().finally(() => opening.delete(k))
      opening.set(k, p)
    }
    return p
  }

  async function openSocket(
    family: 4 | 6,
    bindTo: string | undefined,
  ): Promise<SourceSocket> {
    const make = (): SocketAsPromised => {
      const s = DgramAsPromised.createSocket(family === 4 ? 'udp4' : 'udp6')
      // Errors surface on the next send; an 'error' event must not crash us.
      s.socket.on('error', () => {})
      return s
    }
    const s = make()
    if (bindTo === undefined) return { socket: s, bound: true, retryAt: 0 }
    try {
      await s.bind({ address: bindTo, port: 0 })
      return { socket: s, bound: true, retryAt: 0 }
    } catch (e) {
      await s.close().catch(() => {})
      if (!unboundWarned.has(bindTo)) {
        unboundWarned.add(bindTo)
        log.warn(
          { code: 'TC_ERR_SOURCE', address: bindTo, err: e },
          tcError('TC_ERR_SOURCE', bindTo, (e as Error).message).message,
        )
      }
      return { socket: make(), bound: false, retryAt: now() + BIND_RETRY_MS }
    }
  }
  const unboundWarned = new Set<string>()

  const key = (m: Master): string => formatHostPort(m)

  async function sendAll(load: number, state: ReportState): Promise<void> {
    // One seq per round, the same datagram to every master: the MAC does not
    // name the master, so a copy sent to master B must be a replay at A,
    // not a newer report (PROTOCOL.md, seq). A dual-stack node names, to
    // each master, its address of that master's family.
    const s = ++seq
    const datagrams = new Map<string, Buffer>()
    const datagramFor = (m: Master): Buffer => {
      const node = nodeFor(config, m)
      let d = datagrams.get(node)
      if (!d) {
        d = Buffer.from(
          formatReport(
            { node, load, state, sender: SENDER, epoch, seq: s },
            config.key,
          ),
        )
        datagrams.set(node, d)
      }
      return d
    }
    await Promise.all(
      config.masters.map(async m => {
        const datagram = datagramFor(m)
        const addr = key(m)
        const st = masterState.get(addr) ?? { sent: 0, errors: 0 }
        masterState.set(addr, st)
        try {
          await (await socketFor(m)).send(datagram, m.port, m.host)
          st.sent++
          st.lastSentAt = now()
          sent.inc({ master: addr })
          if (st.lastError)
            log.info({ master: addr }, 'sending to master works again')
          delete st.lastError
          lastSent = { at: st.lastSentAt, seq: s, load, state }
        } catch (e) {
          st.errors++
          sendErrors.inc({ master: addr })
          const msg = (e as Error).message
          if (st.lastError !== msg)
            log.warn(
              { master: addr, code: 'TC_ERR_SEND', err: e },
              tcError('TC_ERR_SEND', addr, msg).message,
            )
          st.lastError = msg
        }
      }),
    )
  }

  async function doRound(): Promise<void> {
    rounds++
    try {
      sample = await sampler.sample()
      loadGauge.set(sample.load)
      percentGauge.set(sample.percent)
      if (lastError) log.info('reading procfs works again')
      lastError = undefined
    } catch (e) {
      procErrors.inc()
      const msg = (e as Error).message
      if (msg !== lastError)
        log.error(
          { err: e, code: (e as { code?: string }).code },
          'cannot compute the load index; round skipped',
        )
      lastError = msg
      return
    }
    const r = reportFor(flag, sample.load)
    if (r) await sendAll(r.load, r.state)
  }

  function round(): Promise<void> {
    // One round at a time: a slow /proc read must not stack rounds up.
    inFlight ??= doRound().finally(() => (inFlight = undefined))
    return inFlight
  }

  function schedule(): void {
    clearInterval(timer)
    timer = setInterval(() => void round(), config.updatesMs)
  }

  async function startAgent(c: TrafficClientConfig): Promise<void> {
    if (!c.agent) return
    agent = await startAgentServer({
      addr: c.agent.addr,
      port: c.agent.port,
      reply: () => agentReply(flag, sample?.percent ?? 0),
      onAnswer: () => agentAnswers.inc(),
    })
    log.info(
      { agent: formatHostPort(agent.address) },
      'agent-check responder listening',
    )
  }

  function openErrorLog(path: string | undefined): void {
    if (!opts.errorLog) return
    try {
      opts.errorLog.reopen(path)
    } catch (e) {
      throw tcError(
        'TC_ERR_ERRORLOG',
        path,
        (e as NodeJS.ErrnoException).code ?? String(e),
        e,
      )
    }
  }

  async function setFlag(
    command: FlagCommand,
  ): Promise<{ previous: Flag; flag: Flag }> {
    const previous = flag
    flag = nextFlag(flag, command)
    setFlagGauge()
    if (previous !== flag)
      log.info(
        { from: previous, to: flag, command },
        'load-report flag changed',
      )
    // A round already past its flag check finishes first, so once this
    // returns nothing more goes out under the old flag.
    await inFlight
    // Pausing says `drain` once, then nothing: the managers stop new
    // connections now, not after their timeout, and their fail-static
    // never keeps a node whose last word was drain. The same state as
    // ldirectord's drains (HAS mode), so the node is not removed and
    // re-added between them. Only on the change: ldirectord repeats
    // `pause` every tick.
    if (flag === 'paused' && previous !== 'paused' && !closing) {
      await sendAll(0, 'drain')
      log.info({ seq }, 'sent drain report (paused)')
    }
    // Tell the managers now rather than one interval later.
    if (flag !== 'paused' && !closing) {
      await round()
      schedule()
    }
    return { previous, flag }
  }

  const flagCommand = (command: FlagCommand) => async (args: string[]) => {
    if (args.length) throw tcError('TC_ERR_FLAG_ARGS', command)
    return setFlag(command)
  }

  const client: TrafficClient = {
    async start() {
      openErrorLog(config.errorLog)
      try {
        await sampler.init()
        await startAgent(config)
      } catch (e) {
        opts.errorLog?.close()
        throw e
      }
      log.info(
        {
          node: config.node,
          ...(config.altNode !== undefined ? { altNode: config.altNode } : {}),
          masters: config.masters.map(key),
          updatesMs: config.updatesMs,
          formula: config.formula,
          procfs: config.procfs,
          signed: config.key !== undefined,
        },
        'reporting load',
      )
      await round()
      schedule()
    },

    async reload(next) {
      // Prepare everything that can fail before changing anything.
      let nextSampler = sampler
      if (next.procfs !== config.procfs) {
        nextSampler = new LoadSampler(
          makeReaders(next.procfs),
          loadOptions(next),
        )
        await nextSampler.init()
      } else {
        sampler.check(loadOptions(next))
      }
      openErrorLog(next.errorLog)
      const agentChanged =
        JSON.stringify(next.agent) !== JSON.stringify(config.agent)
      if (agentChanged) {
        const old = config
        // Rebind the port actually held (agent_port 0 picked one at start).
        const held =
          agent && old.agent
            ? {
                ...old,
                agent: { addr: old.agent.addr, port: agent.address.port },
              }
            : old
        await agent?.close()
        agent = undefined
        try {
          await startAgent(next)
        } catch (e) {
          // Back to the old listener and log file: the reload is refused whole.
          await startAgent(held).catch(() => {})
          try {
            openErrorLog(old.errorLog)
          } catch {
            // The old file went away meanwhile; stdout still has every line.
          }
          throw e
        }
      }
      // Nothing below can fail.
      if (nextSampler === sampler) sampler.setOptions(loadOptions(next))
      const intervalChanged = next.updatesMs !== config.updatesMs
      sampler = nextSampler
      config = next
      // Sockets bound to addresses the new config no longer names.
      const keep = new Set(next.masters.map(m => socketKey(next, m)))
      for (const [k, e] of sockets)
        if (!keep.has(k)) {
          sockets.delete(k)
          void e.socket.close().catch(() => {})
        }
      for (const a of [...masterState.keys()]) {
        if (!config.masters.some(m => key(m) === a)) masterState.delete(a)
      }
      if (intervalChanged) schedule()
    },

    close() {
      closing ??= (async () => {
        clearInterval(timer)
        await inFlight
        // The final word: managers remove the node now, not after timeout.
        await sendAll(0, 'down')
        log.info({ seq }, 'sent final down report')
        await agent?.close()
        await Promise.all(
          [...sockets.values()].map(s => s.socket.close().catch(() => {})),
        )
        sockets.clear()
        opts.errorLog?.close()
      })()
      return closing
    },

    status() {
      return {
        node: config.node,
        nodes:
          config.altNode !== undefined
            ? [config.node, config.altNode]
            : [config.node],
        formula: config.formula,
        flag,
        epoch,
        seq,
        rounds,
        updatesMs: config.updatesMs,
        signed: config.key !== undefined,
        load: sample ?? null,
        lastSent: lastSent
          ? { ...lastSent, atIso: new Date(lastSent.at).toISOString() }
          : null,
        lastError: lastError ?? null,
        masters: config.masters.map(m => {
          const st = masterState.get(key(m))
          return {
            name: m.name,
            address: key(m),
            sent: st?.sent ?? 0,
            errors: st?.errors ?? 0,
            lastError: st?.lastError ?? null,
            lastSent: st?.lastSentAt
              ? new Date(st.lastSentAt).toISOString()
              : null,
          }
        }),
        agent: agent ? formatHostPort(agent.address) : null,
      }
    },

    setFlag,
    round,
    commands: {
      pause: flagCommand('pause'),
      resume: flagCommand('resume'),
      drain: flagCommand('drain'),
    },
    registry,
    get flag() {
      return flag
    },
    get agentAddress() {
      return agent?.address
    },
  }
  return client
}

function loadOptions(c: TrafficClientConfig): LoadOptions {
  return {
    formula: c.formula,
    capacity: c.capacity,
    scale: c.scale,
    memHeadroom: c.memHeadroom,
    ...(c.ramMB !== undefined ? { ramMB: c.ramMB } : {}),
  }
}
