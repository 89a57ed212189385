import { createVerifier, TokenError, type Algorithm } from 'fast-jwt'
import type { JwtConfig } from '../../apps/gateway/config/types.ts'

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
  return createVerifier({
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
  }) as Verify
}
