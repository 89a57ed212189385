import type { Identity } from './identity.ts'

// @fastify/jwt decodes every token and fast-jwt's cache hashes it (sha256) to find its
// entry before a cached result comes back: ~8 µs a request in the bench profile, the
// largest single cost of the full pipeline. Clients resend the same token, so this memo
// answers repeats in front of request.jwtVerify(), which still verifies every token the
// memo has not seen (and keeps fast-jwt's cache, including its cache of rejections).
//
// The key is the token's last characters (the tail of its signature, which differs
// between any two tokens) and a hit must equal the whole token: a Map key of the whole
// token would be hashed in full, 200-800 characters, on every lookup, while comparing it
// to the entry found is a memory compare. A token sharing the tail of a memoised one is a
// miss. Only verified tokens are kept; an entry ends with its token (exp + clock
// tolerance), after TTL_MS at most, and when the key set changes (a JWKS fetch: a key
// dropped from it stops verifying at once, as without the memo); the map is emptied when
// full, so a flood of distinct tokens only falls back to @fastify/jwt.
export const TOKEN_MEMO_SIZE = 1024
const TTL_MS = 60_000
const KEY_CHARS = 16

interface Entry {
  token: string
  identity: Identity
  until: number
  revision: number
}

export class TokenMemo {
  private readonly entries = new Map<string, Entry>()
  private readonly toleranceMs: number
  private readonly revision: () => number

  // revision: the key set's (KeySource.revision).
  constructor (toleranceMs: number, revision: () => number) {
    this.toleranceMs = toleranceMs
    this.revision = revision
  }

  get (token: string, now: number): Identity | undefined {
    const hit = this.entries.get(token.slice(-KEY_CHARS))
    return hit !== undefined && hit.token === token && hit.until > now && hit.revision === this.revision()
      ? hit.identity
      : undefined
  }

  // Only for a token request.jwtVerify() accepted.
  set (token: string, identity: Identity, now: number) {
    const ends = identity.exp === null ? Infinity : identity.exp * 1000 + this.toleranceMs
    if (this.entries.size >= TOKEN_MEMO_SIZE) this.entries.clear()
    this.entries.set(token.slice(-KEY_CHARS), { token, identity, until: Math.min(ends, now + TTL_MS), revision: this.revision() })
  }
}
