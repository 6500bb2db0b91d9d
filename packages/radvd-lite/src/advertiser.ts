// One advertising interface at run time: the raw socket, the scheduler's
// timer, RS handling and the final RAs. Everything that decides *what* or
// *when* lives in pure modules (ra-content, scheduler, rs); this file only
// wires them to the socket and the clock.

import { createDropLog, type DropLog, type Logger } from '@has/daemon-kit'
import type { InterfaceConfig } from './config.js'
import { raError } from './errors.js'
import type { Metrics } from './metrics.js'
import type { IcmpSocket, IcmpSocketOptions, Received } from './native.js'
import { buildRa, parseRa, ICMP6_RA, ICMP6_RS, NdpParseError } from './ra.js'
import { compareRa } from './consistency.js'
import {
  diffPrefixes,
  pruneDeprecated,
  raContent,
  type DeprecatedPrefix,
} from './ra-content.js'
import { checkRs } from './rs.js'
import {
  RaScheduler,
  MAX_FINAL_RTR_ADVERTISEMENTS,
  type SendAction,
} from './scheduler.js'
import type { LinkInfo } from './link.js'

export const ALL_NODES = 'ff02::1'
export const ALL_ROUTERS = 'ff02::2'
/** How often a missing interface or a tentative link-local is rechecked. */
export const RECHECK_MS = 1000
/** Gap between the final RAs on shutdown. */
export const FINAL_GAP_MS = 100

export interface AdvertiserDeps {
  readonly logger: Logger
  readonly metrics: Metrics
  readonly openSocket: (o: IcmpSocketOptions) => IcmpSocket
  readonly readLink: (name: string) => Promise<LinkInfo>
  readonly now?: () => number
  readonly random?: () => number
}

export type AdvertiserState =
  'disabled' | 'missing' | 'waiting-link-local' | 'advertising' | 'stopped'

/** One interface in `status` (README "Status"). */
export interface AdvertiserStatus {
  name: string
  state: AdvertiserState
  ifindex: number | null
  linkLocal: string | null
  mac: string | null
  prefixes: {
    prefix: string
    valid: number
    preferred: number
    deprecated: boolean
  }[]
  lastRa: { at: string; kind: string; dst: string } | null
  lastRs: { at: string; src: string } | null
  nextRaInMs: number | null
  raSent: number
  rsReceived: number
  rsDropped: { hoplimit: number; malformed: number }
  sendErrors: number
}

export class Advertiser {
  #cfg: InterfaceConfig
  readonly #deps: AdvertiserDeps
  readonly #log: Logger
  /** Rate-limited warnings for dropped RSs and malformed RAs (next to the metrics). */
  readonly #drops: DropLog
  readonly #now: () => number
  readonly #sched: RaScheduler
  #deprecated: DeprecatedPrefix[] = []
  #socket: IcmpSocket | undefined
  #link: LinkInfo = { exists: false }
  #timer: NodeJS.Timeout | undefined
  #state: AdvertiserState = 'missing'
  #stopped = false
  #last: { at: number; kind: string; dst: string } | undefined
  #lastRs: { at: number; src: string } | undefined
  #counts = { sent: 0, rs: 0, hoplimit: 0, malformed: 0, sendErrors: 0 }

  constructor(cfg: InterfaceConfig, deps: AdvertiserDeps) {
    this.#cfg = cfg
    this.#deps = deps
    this.#log = deps.logger.child({ interface: cfg.name })
    this.#drops = createDropLog(this.#log, { what: 'ICMPv6 router messages' })
    this.#now = deps.now ?? Date.now
    this.#sched = new RaScheduler({
      min: cfg.MinRtrAdvInterval,
      max: cfg.MaxRtrAdvInterval,
      ...(deps.random ? { random: deps.random } : {}),
    })
  }

  get name(): string {
    return this.#cfg.name
  }

  /** Opens the socket; throws for a missing interface only if IgnoreIfMissing is off. */
  async start(): Promise<void> {
    if (!this.#cfg.AdvSendAdvert) {
      this.#state = 'disabled'
      this.#log.info('AdvSendAdvert is off; not advertising')
      return
    }
    await this.#attach(true)
  }

  async #attach(first: boolean): Promise<void> {
    if (this.#stopped) return
    this.#link = await this.#deps.readLink(this.#cfg.name)
    if (!this.#link.exists) {
      if (first && !this.#cfg.IgnoreIfMissing)
        throw raError('RA_ERR_IFACE_MISSING', this.#cfg.name)
      if (this.#state !== 'missing' || first)
        this.#log.warn('interface missing; waiting for it')
      this.#state = 'missing'
      this.#arm(RECHECK_MS, () => void this.#attach(false))
      return
    }
    try {
      this.#socket = this.#deps.openSocket({
        ifname: this.#cfg.name,
        types: [ICMP6_RS, ICMP6_RA],
        groups: [ALL_ROUTERS],
        onPacket: p => this.#onPacket(p),
      })
    } catch (e) {
      const code = (e as { code?: string }).code
      // Already one of ours (RA_ERR_NATIVE): its message is the clear one.
      if (code?.startsWith('RA_ERR_')) throw e
      if (code === 'EPERM' || code === 'EACCES') {
        throw raError(
          'RA_ERR_PRIVILEGE',
          this.#cfg.name,
          (e as Error).message,
          e,
        )
      }
      if (code === 'ENODEV' && (!first || this.#cfg.IgnoreIfMissing)) {
        this.#state = 'missing'
        this.#arm(RECHECK_MS, () => void this.#attach(false))
        return
      }
      throw raError('RA_ERR_SOCKET', this.#cfg.name, (e as Error).message, e)
    }
    this.#log.info(
      { ifindex: this.#socket.ifindex, mtu: this.#link.mtu },
      'interface attached',
    )
    if (
      this.#cfg.AdvLinkMTU > 0 &&
      this.#link.mtu &&
      this.#cfg.AdvLinkMTU > this.#link.mtu
    ) {
      this.#log.warn(
        { AdvLinkMTU: this.#cfg.AdvLinkMTU, mtu: this.#link.mtu },
        'AdvLinkMTU exceeds the interface MTU',
      )
    }
    this.#sched.start(this.#now())
    this.#state = this.#link.linkLocal ? 'advertising' : 'waiting-link-local'
    this.#tick()
  }

  #arm(ms: number, fn: () => void): void {
    clearTimeout(this.#timer)
    if (this.#stopped) return
    this.#timer = setTimeout(fn, Math.max(0, ms))
  }

  #armNext(): void {
    const at = this.#sched.nextAt()
    if (Number.isFinite(at)) this.#arm(at - this.#now(), () => this.#tick())
  }

  #tick(): void {
    if (this.#stopped || !this.#socket) return
    if (!this.#link.linkLocal) {
      // No valid link-local yet (DAD running): check again shortly,
      // without spending a scheduled RA.
      void this.#deps.readLink(this.#cfg.name).then(l => {
        this.#link = l
        if (l.linkLocal) {
          this.#state = 'advertising'
          this.#log.info({ linkLocal: l.linkLocal }, 'link-local address ready')
          this.#tick()
        } else this.#arm(RECHECK_MS, () => this.#tick())
      })
      this.#state = 'waiting-link-local'
      return
    }
    for (const a of this.#sched.due(this.#now())) this.#send(a)
    this.#armNext()
  }

  #send(a: SendAction, final = false): boolean {
    if (!this.#socket || !this.#link.linkLocal) return false
    const now = this.#now()
    this.#deprecated = pruneDeprecated(this.#deprecated, now)
    const bytes = buildRa(
      raContent(this.#cfg, {
        now,
        deprecated: this.#deprecated,
        final,
        ...(this.#link.mac ? { mac: this.#link.mac } : {}),
      }),
    )
    const dst = a.kind === 'unicast' ? a.dst : ALL_NODES
    const kind = final ? 'final' : a.kind
    try {
      this.#socket.send(bytes, dst, this.#link.linkLocal, 255)
    } catch (e) {
      this.#counts.sendErrors++
      this.#deps.metrics.sendErrors.inc({ interface: this.#cfg.name })
      const code = (e as { code?: string }).code
      this.#log.warn({ err: e, dst, kind }, 'sending RA failed')
      // The address may have gone (DAD, link down): look it up again.
      if (code === 'EADDRNOTAVAIL' || code === 'EINVAL')
        this.#link = { ...this.#link, linkLocal: undefined }
      if (code === 'ENODEV' || code === 'ENXIO') void this.#detach()
      return false
    }
    this.#counts.sent++
    this.#deps.metrics.raSent.inc({ interface: this.#cfg.name, kind })
    this.#last = { at: now, kind, dst }
    this.#log.debug({ kind, dst, bytes: bytes.length }, 'RA sent')
    return true
  }

  async #detach(): Promise<void> {
    this.#socket?.close()
    this.#socket = undefined
    this.#log.warn('interface went away; waiting for it')
    this.#state = 'missing'
    this.#arm(RECHECK_MS, () => void this.#attach(false))
  }

  /** RFC 4861 6.2.7: another router's RA; log what contradicts ours. */
  #onRa(p: Received): void {
    if (
      p.hopLimit !== 255 ||
      !p.src.startsWith('fe80:') ||
      p.src === this.#link.linkLocal
    )
      return
    let theirs
    try {
      theirs = parseRa(p.data)
    } catch (e) {
      if (!(e instanceof NdpParseError)) throw e
      this.#deps.metrics.raForeign.inc({
        interface: this.#cfg.name,
        result: 'malformed',
      })
      this.#drops.drop('malformed-ra', p.src)
      return
    }
    const ours = raContent(this.#cfg, {
      now: this.#now(),
      deprecated: this.#deprecated,
    })
    const diffs = compareRa(ours, theirs)
    this.#deps.metrics.raForeign.inc({
      interface: this.#cfg.name,
      result: diffs.length ? 'inconsistent' : 'consistent',
    })
    if (diffs.length)
      this.#log.warn(
        { router: p.src, diffs },
        'another router advertises inconsistent values',
      )
  }

  #onPacket(p: Received): void {
    const name = this.#cfg.name
    if (p.data[0] === ICMP6_RA) {
      this.#onRa(p)
      return
    }
    const v = checkRs(p.data, p.src, p.hopLimit)
    if (!v.ok) {
      if (v.reason === 'hoplimit') this.#counts.hoplimit++
      else this.#counts.malformed++
      this.#deps.metrics.rsDropped.inc({ interface: name, reason: v.reason })
      this.#log.debug(
        { src: p.src, reason: v.reason, detail: v.detail },
        'RS dropped',
      )
      this.#drops.drop(`rs-${v.reason}`, p.src)
      return
    }
    this.#counts.rs++
    this.#deps.metrics.rsReceived.inc({ interface: name })
    this.#lastRs = { at: this.#now(), src: p.src }
    this.#log.debug({ src: p.src }, 'RS received')
    if (this.#state !== 'advertising') return
    this.#sched.solicit(this.#now(), p.src, this.#cfg.AdvRASolicitedUnicast)
    this.#armNext()
  }

  /** Applies a new config for the same interface (validated already). */
  reload(next: InterfaceConfig): void {
    const now = this.#now()
    this.#deprecated = diffPrefixes(
      this.#cfg.prefixes,
      next.prefixes,
      this.#deprecated,
      now,
    )
    for (const d of this.#deprecated) {
      this.#log.info(
        {
          prefix: `${d.prefix.prefix}/${d.prefix.length}`,
          until: new Date(d.expiresAt).toISOString(),
        },
        'prefix removed; advertising it as deprecated',
      )
    }
    // The service replaces the advertiser when AdvSendAdvert flips.
    this.#cfg = next
    if (!next.AdvSendAdvert) return
    this.#sched.reconfigure(now, next.MinRtrAdvInterval, next.MaxRtrAdvInterval)
    if (this.#socket) this.#tick()
  }

  /** Final RAs (router lifetime 0) if RemoveAdvOnExit, then closes. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearTimeout(this.#timer)
    if (
      this.#socket &&
      this.#state === 'advertising' &&
      this.#cfg.RemoveAdvOnExit
    ) {
      for (let i = 0; i < MAX_FINAL_RTR_ADVERTISEMENTS; i++) {
        if (i > 0) await new Promise(r => setTimeout(r, FINAL_GAP_MS))
        this.#send({ kind: 'unsolicited' }, true)
      }
      this.#log.info('final RAs sent (router lifetime 0)')
    }
    this.#socket?.close()
    this.#socket = undefined
    this.#drops.flush()
    this.#drops.close()
    this.#state = 'stopped'
  }

  status(): AdvertiserStatus {
    const now = this.#now()
    const iso = (t: number): string => new Date(t).toISOString()
    const next = this.#sched.nextAt()
    return {
      name: this.#cfg.name,
      state: this.#state,
      ifindex: this.#socket?.ifindex ?? null,
      linkLocal: this.#link.linkLocal ?? null,
      mac: this.#link.mac ?? null,
      prefixes: [
        ...this.#cfg.prefixes.map(p => ({
          prefix: `${p.prefix}/${p.length}`,
          valid: p.AdvValidLifetime,
          preferred: p.AdvPreferredLifetime,
          deprecated: false,
        })),
        ...pruneDeprecated(this.#deprecated, now).map(d => ({
          prefix: `${d.prefix.prefix}/${d.prefix.length}`,
          valid: Math.ceil((d.expiresAt - now) / 1000),
          preferred: 0,
          deprecated: true,
        })),
      ],
      lastRa: this.#last
        ? { at: iso(this.#last.at), kind: this.#last.kind, dst: this.#last.dst }
        : null,
      lastRs: this.#lastRs
        ? { at: iso(this.#lastRs.at), src: this.#lastRs.src }
        : null,
      nextRaInMs:
        this.#state === 'advertising' && Number.isFinite(next)
          ? Math.max(0, Math.round(next - now))
          : null,
      raSent: this.#counts.sent,
      rsReceived: this.#counts.rs,
      rsDropped: {
        hoplimit: this.#counts.hoplimit,
        malformed: this.#counts.malformed,
      },
      sendErrors: this.#counts.sendErrors,
    }
  }
}
