// The parsed shape of ldirectord.cf, apart from the parser so that the
// real-line parser and the config parser both use it without importing
// each other.

import type { HostPort } from '@has/daemon-kit'

export type CheckType =
  'connect' | 'negotiate' | 'ping' | 'external' | 'on' | 'off' | number
export type HttpMethod = 'GET' | 'HEAD'
export type ServiceKind = 'http' | 'https' | 'none'
export type Forwarding = 'gate' | 'masq' | 'ipip'

export interface RealServer {
  readonly host: string
  readonly port: number
  readonly forwarding: Forwarding
  readonly weight: number
  /** Per-real request/receive override ("req", "recv" on the real line). */
  readonly request?: string
  readonly receive?: string
  readonly line: number
}

export interface VirtualService {
  /** `<vip>:<port>`: also the traffic-manager service name. */
  readonly name: string
  readonly host: string
  readonly port: number
  readonly line: number
  readonly reals: readonly RealServer[]
  readonly fallback?: HostPort
  readonly checktype: CheckType
  readonly service: ServiceKind
  readonly checkport?: number
  readonly request: string
  readonly receive?: string
  readonly httpmethod: HttpMethod
  readonly virtualhost?: string
  readonly checkcommand: string
  readonly scheduler: string
  readonly protocol: string
  readonly checktimeout: number
  readonly negotiatetimeout: number
  readonly checkinterval: number
  readonly failurecount: number
  readonly quiescent: boolean
  readonly restartcommand?: string
  readonly comment?: string
  /** Attempts per check: a check fails only when all of them fail. */
  readonly checkcount: number
  /**
   * Client affinity (ms) and its granularity (prefix length), as written:
   * the traffic-manager's `persistent` applies them, not ldirectord.
   */
  readonly persistent?: number
  readonly netmask?: number
}

export interface LdConfig {
  readonly file: string
  readonly autoreload: boolean
  readonly logfile?: string
  readonly maintenancedir?: string
  readonly hasmode: boolean
  /** UDP load-report targets (HAS mode). */
  readonly trafficmanagers: readonly HostPort[]
  /** traffic-manager control socket (director mode weights). */
  readonly trafficmanagercontrol?: string
  /** local traffic-client control socket (HAS mode pause/resume). */
  readonly trafficclientcontrol?: string
  readonly reportkey?: string
  readonly reportkeyfile?: string
  /** This node's address as the traffic-managers know it (HAS mode). */
  readonly nodeaddress?: string
  readonly restartinterval: number
  readonly virtuals: readonly VirtualService[]
}
