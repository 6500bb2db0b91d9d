// authkeys, as Linux-HA heartbeat reads it: `auth N` picks the key used to
// sign, `N sha1 SECRET` / `N md5 SECRET` define keys. Every listed key is
// accepted on receive so keys can be rolled over one node at a time.
// `crc` is refused: it authenticates nothing.

import {
  IssueList,
  KEY_MIN_BYTES,
  sourceLines,
  splitWords,
  parseIntRange,
} from '@has/daemon-kit'

export const AUTH_ALGORITHMS = ['sha1', 'md5', 'sha256'] as const
export type AuthAlgorithm = (typeof AUTH_ALGORITHMS)[number]

export interface AuthKey {
  readonly index: number
  readonly algorithm: AuthAlgorithm
  readonly secret: string
}

export interface AuthKeys {
  /** Index of the key we sign with (`auth N`). */
  readonly active: number
  readonly keys: readonly AuthKey[]
}

export function parseAuthkeys(
  text: string,
  file: string,
  issues: IssueList,
): AuthKeys | undefined {
  let active: number | undefined
  let activeAt = { file, line: 0 }
  const keys = new Map<number, AuthKey>()
  for (const l of sourceLines(text, file)) {
    const [head = '', ...rest] = splitWords(l.text)
    if (head === 'auth') {
      const n = parseIntRange(rest[0] ?? '', 1, 15)
      if (rest.length !== 1 || n === undefined) {
        issues.error(l, 'auth takes one key index 1..15', l.text)
      } else {
        active = n
        activeAt = l
      }
      continue
    }
    const index = parseIntRange(head, 1, 15)
    if (index === undefined) {
      issues.error(l, 'expected "auth N" or "N sha1|md5 SECRET"', l.text)
      continue
    }
    const alg = (rest[0] ?? '').toLowerCase()
    if (alg === 'crc') {
      issues.error(
        l,
        'crc authenticates nothing (anyone can forge it); use sha1 with a secret',
        rest[0],
      )
      continue
    }
    if (!(AUTH_ALGORITHMS as readonly string[]).includes(alg)) {
      issues.error(l, 'unknown method; use sha1, md5 or sha256', rest[0] ?? '')
      continue
    }
    const secret = rest.slice(1).join(' ')
    // The one key rule of every has daemon (daemon-kit key-file). The
    // error gives the length, never the secret itself.
    const bytes = Buffer.byteLength(secret, 'utf8')
    if (bytes < KEY_MIN_BYTES) {
      issues.error(
        l,
        `secret missing or shorter than ${KEY_MIN_BYTES} bytes`,
        `${bytes} bytes`,
      )
      continue
    }
    if (keys.has(index)) issues.error(l, 'key index defined twice', head)
    keys.set(index, { index, algorithm: alg as AuthAlgorithm, secret })
  }
  if (active === undefined) {
    issues.error({ file, line: 0 }, 'no "auth N" line')
    return undefined
  }
  if (!keys.has(active)) {
    issues.error(
      activeAt,
      'auth names a key index that is not defined',
      String(active),
    )
    return undefined
  }
  return { active, keys: [...keys.values()] }
}
