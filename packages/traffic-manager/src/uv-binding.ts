// Node's own TCP handle classes (the libuv wrappers `node:net` is built
// on), for the proxy's handle relay (relay-handles.ts). They are not
// public API: this file is the one place that reaches them, checks their
// shape once, and answers undefined when anything is missing, so that the
// proxy falls back to `net.Socket` (relay-streams.ts) on a Node that
// changed them. Why at all: two `net.Socket` streams per connection cost
// the proxy about twice HAProxy's CPU per connection (issue 20,
// docs/bench/proxy.md); the handles alone cost a fraction of that.

/** A libuv TCP handle as Node 20 exposes it (tcp_wrap.TCP). */
export interface TcpHandle {
  /** Called with no argument: reads go to the user buffer (useUserBuffer). */
  onread: () => void
  onconnection?: (status: number, client: TcpHandle | undefined) => void
  readStart(): number
  readStop(): number
  writeBuffer(req: WriteReq, data: Uint8Array): number
  shutdown(req: ShutdownReq): number
  close(cb?: () => void): void
  setNoDelay(on: boolean): number
  connect(req: ConnectReq, address: string, port: number): number
  connect6(req: ConnectReq, address: string, port: number): number
  getpeername(out: { address?: string }): number
  /** Reads go into `buf` (from offset 0) instead of a new allocation each. */
  useUserBuffer(buf: Uint8Array): void
  /** Ours: the relay's per-handle state (see relay-handles.ts). */
  [key: symbol]: unknown
}

export interface WriteReq {
  handle: TcpHandle | undefined
  oncomplete: (this: WriteReq, status: number) => void
  [key: symbol]: unknown
}
export interface ShutdownReq {
  handle: TcpHandle | undefined
  oncomplete: (this: ShutdownReq, status: number) => void
  [key: symbol]: unknown
}
export interface ConnectReq {
  oncomplete: (this: ConnectReq, status: number, handle: TcpHandle) => void
  address: string
  port: number
  [key: symbol]: unknown
}

export interface UvBinding {
  newSocket(): TcpHandle
  newWriteReq(): WriteReq
  newShutdownReq(): ShutdownReq
  newConnectReq(): ConnectReq
  /** Shared result slots the handles fill before each callback. */
  readonly state: Int32Array
  readonly kReadBytesOrError: number
  readonly kLastWriteWasAsync: number
  /** libuv's end-of-stream code. */
  readonly UV_EOF: number
}

interface RawTcpWrap {
  TCP: new (type: number) => TcpHandle
  TCPConnectWrap: new () => ConnectReq
  constants: { SOCKET: number; SERVER: number }
}
interface RawStreamWrap {
  WriteWrap: new () => WriteReq
  ShutdownWrap: new () => ShutdownReq
  streamBaseState: Int32Array
  kReadBytesOrError: number
  kLastWriteWasAsync: number
}
interface RawUv {
  UV_EOF: number
}

const METHODS = [
  'readStart',
  'readStop',
  'writeBuffer',
  'shutdown',
  'close',
  'setNoDelay',
  'connect',
  'connect6',
  'getpeername',
  'useUserBuffer',
] as const

let cached: UvBinding | undefined | null = null

/** Node's TCP handle binding, or undefined (with why) when it is not what this code expects. */
export function uvBinding(): UvBinding | undefined {
  if (cached !== null) return cached
  cached = probe()
  return cached
}

let missing = ''

/** Why uvBinding() answers undefined ('' when it does not). */
export function uvBindingMissing(): string {
  uvBinding()
  return missing
}

function probe(): UvBinding | undefined {
  try {
    // process.binding: the documented-deprecated (DEP0111, not removed)
    // door to the same objects `node:net` uses; the allow list has these.
    const binding = (
      process as unknown as { binding(name: string): unknown }
    ).binding.bind(process)
    const tcp = binding('tcp_wrap') as RawTcpWrap
    const stream = binding('stream_wrap') as RawStreamWrap
    const uv = binding('uv') as RawUv
    if (
      typeof tcp.TCP !== 'function' ||
      typeof tcp.TCPConnectWrap !== 'function' ||
      typeof tcp.constants?.SOCKET !== 'number' ||
      typeof stream.WriteWrap !== 'function' ||
      typeof stream.ShutdownWrap !== 'function' ||
      !(stream.streamBaseState instanceof Int32Array) ||
      typeof stream.kReadBytesOrError !== 'number' ||
      typeof stream.kLastWriteWasAsync !== 'number' ||
      typeof uv.UV_EOF !== 'number'
    ) {
      missing = 'tcp_wrap/stream_wrap lack the expected members'
      return undefined
    }
    const probeHandle = new tcp.TCP(tcp.constants.SOCKET)
    const lacks = METHODS.filter(
      m =>
        typeof (probeHandle as unknown as Record<string, unknown>)[m] !==
        'function',
    )
    probeHandle.close()
    if (lacks.length > 0) {
      missing = `TCP handle lacks ${lacks.join(', ')}`
      return undefined
    }
    const SOCKET = tcp.constants.SOCKET
    return {
      newSocket: () => new tcp.TCP(SOCKET),
      newWriteReq: () => new stream.WriteWrap(),
      newShutdownReq: () => new stream.ShutdownWrap(),
      newConnectReq: () => new tcp.TCPConnectWrap(),
      state: stream.streamBaseState,
      kReadBytesOrError: stream.kReadBytesOrError,
      kLastWriteWasAsync: stream.kLastWriteWasAsync,
      UV_EOF: uv.UV_EOF,
    }
  } catch (e) {
    missing = (e as Error).message
    return undefined
  }
}
