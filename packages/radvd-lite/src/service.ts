// The library entry: createRadvdLite({ config, logger }) starts one
// advertiser per interface block and gives runDaemon what it needs
// (reload, close, status, registry). Reload keeps advertisers whose
// interface stays, so removed prefixes get deprecated rather than dropped.

import {
  silentLogger,
  type Logger,
  type Registry,
  type Service,
} from '@has/daemon-kit'
import { Advertiser, type AdvertiserStatus } from './advertiser.js'
import type { InterfaceConfig, RadvdConfig } from './config.js'
import { readLink, type LinkInfo } from './link.js'
import { createMetrics } from './metrics.js'
import {
  openIcmpSocket,
  type IcmpSocket,
  type IcmpSocketOptions,
} from './native.js'

export interface RadvdLiteOptions {
  readonly config: RadvdConfig
  readonly logger?: Logger
  readonly registry?: Registry
  /** Seams for tests; default to the real socket and /sys. */
  readonly openSocket?: (o: IcmpSocketOptions) => IcmpSocket
  readonly readLink?: (name: string) => Promise<LinkInfo>
  readonly now?: () => number
  readonly random?: () => number
}

/** `status` (control socket, USR1): the file and every interface. */
export interface RadvdLiteStatus {
  config: string
  interfaces: AdvertiserStatus[]
}

export interface RadvdLite extends Service<RadvdConfig, RadvdLiteStatus> {
  readonly registry: Registry
}

export async function createRadvdLite(
  opts: RadvdLiteOptions,
): Promise<RadvdLite> {
  const logger = opts.logger ?? silentLogger()
  const metrics = createMetrics(opts.registry)
  const deps = {
    logger,
    metrics,
    openSocket: opts.openSocket ?? openIcmpSocket,
    readLink: opts.readLink ?? readLink,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.random ? { random: opts.random } : {}),
  }
  const advertisers = new Map<string, Advertiser>()
  const startOne = async (iface: InterfaceConfig): Promise<void> => {
    const a = new Advertiser(iface, deps)
    advertisers.set(iface.name, a)
    await a.start()
  }
  let current = opts.config
  try {
    for (const iface of current.interfaces) await startOne(iface)
  } catch (e) {
    await Promise.all([...advertisers.values()].map(a => a.stop()))
    throw e
  }

  return {
    registry: metrics.registry,
    async reload(next) {
      const byName = new Map(next.interfaces.map(i => [i.name, i]))
      for (const [name, a] of advertisers) {
        if (!byName.has(name)) {
          advertisers.delete(name)
          await a.stop()
          logger.info({ interface: name }, 'interface removed from the config')
        }
      }
      for (const iface of next.interfaces) {
        const a = advertisers.get(iface.name)
        const before = current.interfaces.find(i => i.name === iface.name)
        if (a && before && before.AdvSendAdvert === iface.AdvSendAdvert) {
          a.reload(iface)
        } else {
          await a?.stop()
          await startOne(iface)
        }
      }
      current = next
    },
    async close() {
      await Promise.all([...advertisers.values()].map(a => a.stop()))
    },
    status() {
      return {
        config: current.file,
        interfaces: [...advertisers.values()].map(a => a.status()),
      }
    },
  }
}
