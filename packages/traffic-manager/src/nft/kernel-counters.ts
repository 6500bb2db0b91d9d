// Pure parsers for what the kernel reports back: named nft counters
// (`nft -j list table`) and conntrack entries (`conntrack -L -o extended`).

export interface NftCounter {
  readonly packets: number
  readonly bytes: number
}

/** Named counters of one table, by name, from `nft -j list table` output. */
export function parseNftCounters(json: string): Map<string, NftCounter> {
  const out = new Map<string, NftCounter>()
  let doc: unknown
  try {
    doc = JSON.parse(json)
  } catch {
    return out
  }
  const items = (doc as { nftables?: unknown[] }).nftables
  if (!Array.isArray(items)) return out
  for (const item of items) {
    const c = (
      item as {
        counter?: { name?: unknown; packets?: unknown; bytes?: unknown }
      }
    ).counter
    if (c && typeof c.name === 'string') {
      out.set(c.name, {
        packets: Number(c.packets) || 0,
        bytes: Number(c.bytes) || 0,
      })
    }
  }
  return out
}

export interface ConntrackFlow {
  readonly proto: string
  readonly state?: string
  readonly origSrc: string
  readonly origDst: string
  readonly origSport: number
  readonly origDport: number
  readonly replySrc: string
  readonly replyDst: string
  readonly replySport: number
  readonly replyDport: number
}

/** One line of `conntrack -L -o extended` (or plain) output; undefined if not a flow. */
export function parseConntrackLine(line: string): ConntrackFlow | undefined {
  const words = line.trim().split(/\s+/)
  const proto = words.find(w => w === 'tcp' || w === 'udp' || w === 'sctp')
  if (!proto) return undefined
  const src: string[] = []
  const dst: string[] = []
  const sport: number[] = []
  const dport: number[] = []
  let state: string | undefined
  for (const w of words) {
    const eq = w.indexOf('=')
    if (eq < 0) {
      if (/^[A-Z_]{4,}$/.test(w) && state === undefined && src.length === 0)
        state = w
      continue
    }
    const k = w.slice(0, eq)
    const v = w.slice(eq + 1)
    if (k === 'src') src.push(v)
    else if (k === 'dst') dst.push(v)
    else if (k === 'sport') sport.push(Number(v))
    else if (k === 'dport') dport.push(Number(v))
  }
  if (src.length < 2 || dst.length < 2 || sport.length < 2 || dport.length < 2)
    return undefined
  const flow = {
    proto,
    origSrc: src[0] as string,
    origDst: dst[0] as string,
    origSport: sport[0] as number,
    origDport: dport[0] as number,
    replySrc: src[1] as string,
    replyDst: dst[1] as string,
    replySport: sport[1] as number,
    replyDport: dport[1] as number,
  }
  return state === undefined ? flow : { ...flow, state }
}

const CLOSED = new Set(['TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK'])

/** Open connections per `host|port` of the reply source (the backend). */
export function activeByBackend(
  text: string,
  vip: { address: string; port: number },
): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const f = parseConntrackLine(line)
    if (!f || f.origDst !== vip.address || f.origDport !== vip.port) continue
    if (f.state && CLOSED.has(f.state)) continue
    const key = `${f.replySrc}|${f.replySport}`
    out.set(key, (out.get(key) ?? 0) + 1)
  }
  return out
}
