// The chaos clients' HTTP module (bench/lib/chaos/http-client.js, plain
// JavaScript) with the types the tests use.
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { ROOT } from '@has/test-support'

export interface HttpClient {
  httpExchange: (
    sock: Socket,
    o: { close: boolean; expectBody: Buffer; timeoutMs: number },
  ) => Promise<string>
  openConnection: (
    host: string,
    timeoutMs: number,
    port?: number,
  ) => Promise<{ s?: Socket; err?: string }>
}

export const loadHttpClient = async (): Promise<HttpClient> =>
  (await import(join(ROOT, 'bench/lib/chaos/http-client.js'))) as HttpClient
