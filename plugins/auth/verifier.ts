import { createVerifier, TokenError, type Algorithm } from 'fast-jwt'
import type { JwtConfig } from './schema.ts'

// Verified claims; the same object comes back for every hit of the verifier's cache,
// which lets the policy memoise what it derives from it (see identity.ts).
export type Claims = Record<string | symbol, unknown>

// Synchronous: throws a fast-jwt TokenError when the token is rejected.
export type Verify = (token: string) => Claims

// Verification is the most expensive step of a request (a signature check per token),
// so every verifier keeps the results of the last tokens it saw. Entries expire with the
// token (exp + clockTolerance) and after DEFAULT_VERIFY_CACHE_TTL_MS at most.
export const DEFAULT_VERIFY_CACHE_SIZE = 10_000
export const DEFAULT_VERIFY_CACHE_TTL_MS = 10 * 60_000
// A rejection that cannot turn into an acceptance (bad signature, expired, wrong issuer)
// is remembered briefly, so replaying one bad token costs no signature check.
export const DEFAULT_ERROR_CACHE_MS = 10_000

export interface VerifyOptions {
  cacheSize: number
}

// One fast-jwt verifier bound to one key and to the algorithms that key may use.
// `key` is the HMAC secret (algorithms all HS*) or a public key PEM (no HS*).
export function createVerify (key: string, algorithms: string[], jwt: JwtConfig,
  opts: VerifyOptions = { cacheSize: DEFAULT_VERIFY_CACHE_SIZE }): Verify {
  if (algorithms.length === 0) throw new Error('no JWT algorithm of auth.jwt.algorithms fits this key')
  const tolerance = jwt.clockToleranceMs
  const required: string[] = []
  // fast-jwt skips a claim check when the claim is absent: a configured issuer or
  // audience must also be present, or a token without them would pass.
  if (jwt.issuer !== undefined) required.push('iss')
  if (jwt.audience !== undefined) required.push('aud')
  return withTokenMemo(createVerifier({
    key,
    algorithms: algorithms as Algorithm[],
    clockTolerance: tolerance,
    ...(jwt.issuer !== undefined ? { allowedIss: jwt.issuer } : {}),
    ...(jwt.audience !== undefined ? { allowedAud: jwt.audience } : {}),
    ...(required.length > 0 ? { requiredClaims: required } : {}),
    cache: opts.cacheSize,
    cacheTTL: DEFAULT_VERIFY_CACHE_TTL_MS,
    // fast-jwt keeps an error until now + clockTolerance + this. A token that is not
    // valid *yet* must not stay rejected once its nbf passes: never cache that one.
    errorCacheTTL: (err: TokenError) => err.code === TokenError.codes.inactive
      ? -(tolerance + 1)
      : Math.max(-1, DEFAULT_ERROR_CACHE_MS - tolerance),
  }) as Verify, tolerance)
}

// fast-jwt's cache hashes every token (sha256) to find its entry, which was the largest
// single auth cost in the benchmark profile. Clients resend the same token, so a small
// map answers repeats without it. Its key is the token's last characters (the tail of the
// signature, which differs between any two tokens), and a hit must equal the whole
// token: a string key of the whole token would be hashed in full, 200-800 characters, on
// every request, while comparing it to the entry found is a memory compare. A token that
// shares the tail of a memoised one is simply a miss. Entries end with the token
// (exp + clockTolerance) and after a minute; the map is emptied when full, so a flood of
// distinct tokens only falls back to fast-jwt's own bounded cache.
export const TOKEN_MEMO_SIZE = 1024
const TOKEN_MEMO_TTL_MS = 60_000
const MEMO_KEY_CHARS = 16

interface MemoEntry {
  token: string
  claims: Claims
  until: number
}

function withTokenMemo (verify: Verify, toleranceMs: number): Verify {
  const memo = new Map<string, MemoEntry>()
  return function memoizedVerify (token) {
    const now = Date.now()
    const key = token.slice(-MEMO_KEY_CHARS)
    const hit = memo.get(key)
    if (hit !== undefined && hit.token === token && hit.until > now) return hit.claims
    const claims = verify(token)
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 + toleranceMs : Infinity
    if (memo.size >= TOKEN_MEMO_SIZE) memo.clear()
    memo.set(key, { token, claims, until: Math.min(exp, now + TOKEN_MEMO_TTL_MS) })
    return claims
  }
}
