// The heartbeat datagram (PROTOCOL.md "Heartbeat datagrams"): one ASCII
// line, fields separated by single spaces, the HMAC of everything before
// the last space at the end. Pure: no sockets, no clock.

import { createHmac, timingSafeEqual } from 'node:crypto'
import type { AuthKeys } from './authkeys.js'

export const MAGIC = 'HB1'
export const MAX_DATAGRAM = 1024
export const VIAS = ['u', 'b', 'm'] as const
export type Via = (typeof VIAS)[number]

export interface HeldGroup {
  readonly group: string
  /** How long the sender has held it (ms), to settle split-brain ties. */
  readonly heldMs: number
}

export interface Heartbeat {
  readonly from: string
  /** Sender's generation: start time in ms, larger after each restart. */
  readonly gen: number
  /** One number per round; the same on every path of that round. */
  readonly seq: number
  readonly via: Via
  readonly standby: boolean
  readonly takeover: boolean
  readonly pingOk: number
  readonly pingTotal: number
  readonly held: readonly HeldGroup[]
  readonly failed: readonly string[]
}

export type DecodeResult =
  | { readonly ok: true; readonly hb: Heartbeat }
  | { readonly ok: false; readonly reason: 'malformed' | 'forged' }

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

function list<T>(items: readonly T[], fmt: (x: T) => string): string {
  return items.length ? items.map(fmt).join(',') : '-'
}

export function mac(alg: string, secret: string, body: string): string {
  return createHmac(alg, secret).update(body).digest('hex')
}

/** Encodes and signs with the active key. */
export function encodeHeartbeat(hb: Heartbeat, auth: AuthKeys): Buffer {
  const key = auth.keys.find(k => k.index === auth.active)
  if (!key) throw new Error('active key missing')
  const flags = [
    hb.standby ? 'standby' : '',
    hb.takeover ? 'takeover' : '',
  ].filter(Boolean)
  const body = [
    MAGIC,
    hb.from,
    hb.gen,
    hb.seq,
    hb.via,
    list(flags, f => f),
    `${hb.pingOk}/${hb.pingTotal}`,
    list(hb.held, h => `${h.group}@${Math.max(0, Math.floor(h.heldMs))}`),
    list(hb.failed, f => f),
    key.index,
  ].join(' ')
  return Buffer.from(`${body} ${mac(key.algorithm, key.secret, body)}`, 'ascii')
}

const INT = /^\d{1,15}$/

/** Verifies the HMAC first, then parses; never throws. */
export function decodeHeartbeat(buf: Buffer, auth: AuthKeys): DecodeResult {
  if (buf.length > MAX_DATAGRAM) return { ok: false, reason: 'malformed' }
  const text = buf.toString('latin1')
  const cut = text.lastIndexOf(' ')
  if (cut < 0) return { ok: false, reason: 'malformed' }
  const body = text.slice(0, cut)
  const got = text.slice(cut + 1)
  const f = body.split(' ')
  if (f.length !== 10 || f[0] !== MAGIC)
    return { ok: false, reason: 'malformed' }
  const [
    ,
    from = '',
    gen = '',
    seq = '',
    via = '',
    flags = '',
    ping = '',
    held = '',
    failed = '',
    idx = '',
  ] = f
  const key = auth.keys.find(k => String(k.index) === idx)
  if (!key) return { ok: false, reason: 'forged' }
  const want = Buffer.from(mac(key.algorithm, key.secret, body), 'hex')
  if (!/^[0-9a-f]+$/.test(got) || got.length !== want.length * 2)
    return { ok: false, reason: 'forged' }
  if (!timingSafeEqual(want, Buffer.from(got, 'hex')))
    return { ok: false, reason: 'forged' }
  const pm = /^(\d{1,3})\/(\d{1,3})$/.exec(ping)
  if (
    !NAME.test(from) ||
    !INT.test(gen) ||
    !INT.test(seq) ||
    !(VIAS as readonly string[]).includes(via) ||
    !pm
  ) {
    return { ok: false, reason: 'malformed' }
  }
  const flagSet = flags === '-' ? [] : flags.split(',')
  const heldList: HeldGroup[] = []
  if (held !== '-') {
    for (const h of held.split(',')) {
      const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})@(\d{1,15})$/.exec(h)
      if (!m) return { ok: false, reason: 'malformed' }
      heldList.push({ group: m[1] as string, heldMs: Number(m[2]) })
    }
  }
  const failedList = failed === '-' ? [] : failed.split(',')
  if (failedList.some(x => !NAME.test(x)))
    return { ok: false, reason: 'malformed' }
  return {
    ok: true,
    hb: {
      from,
      gen: Number(gen),
      seq: Number(seq),
      via: via as Via,
      standby: flagSet.includes('standby'),
      takeover: flagSet.includes('takeover'),
      pingOk: Number(pm[1]),
      pingTotal: Number(pm[2]),
      held: heldList,
      failed: failedList,
    },
  }
}
