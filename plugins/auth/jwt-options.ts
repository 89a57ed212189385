import type { FastifyJWTOptions } from '@fastify/jwt'
import { TokenError, type Algorithm } from 'fast-jwt'
import { bearerToken } from './bearer.ts'
import { identityOf } from './identity.ts'
import type { JoseHeader, KeySource } from './keys.ts'

// How @fastify/jwt is registered (per generation, by the auth plugin): it reads the token
// with our bearer parser, decodes it, asks keyForToken for the key of the token's
// alg/kid, and verifies with fast-jwt, one verifier (and one cache) per key string.

// Verification is the most expensive step of a request (a signature check per token),
// so each key's verifier keeps the results of the last tokens it saw. Entries expire with
// the token (exp + clockTolerance) and after DEFAULT_VERIFY_CACHE_TTL_MS at most.
export const DEFAULT_VERIFY_CACHE_SIZE = 10_000
export const DEFAULT_VERIFY_CACHE_TTL_MS = 10 * 60_000
// A rejection that cannot turn into an acceptance (bad signature, expired, wrong issuer)
// is remembered briefly, so replaying one bad token costs no signature check.
export const DEFAULT_ERROR_CACHE_MS = 10_000

// keyForToken's refusal (no key may verify this alg/kid): one object, so a flood of
// forged tokens allocates nothing here.
export const NO_KEY = Object.freeze(new Error('No key may verify this token'))

type SecretCallback = (err: Error | null, secret: string | undefined) => void

// The checks every verifier of `auth.jwt` tokens applies (the public port's @fastify/jwt
// and the egress port's Proxy-Authorization), with the verifier caches.
export function verifyChecks (jwt: KeySource['jwt']) {
  const tolerance = jwt.clockToleranceMs
  const required: string[] = []
  // fast-jwt skips a claim check when the claim is absent: a configured issuer or
  // audience must also be present, or a token without them would pass.
  if (jwt.issuer !== undefined) required.push('iss')
  if (jwt.audience !== undefined) required.push('aud')
  return {
    // A second check behind keyForToken, which only hands a key out for an alg that it
    // may verify (HS* only to the secret): `none` never, whatever the config says.
    algorithms: jwt.algorithms.filter((alg) => alg !== 'none') as Algorithm[],
    clockTolerance: tolerance,
    ...(jwt.issuer !== undefined ? { allowedIss: jwt.issuer } : {}),
    ...(jwt.audience !== undefined ? { allowedAud: jwt.audience } : {}),
    ...(required.length > 0 ? { requiredClaims: required } : {}),
    cache: DEFAULT_VERIFY_CACHE_SIZE,
    cacheTTL: DEFAULT_VERIFY_CACHE_TTL_MS,
    // fast-jwt keeps an error until now + clockTolerance + this. A token that is not
    // valid *yet* must not stay rejected once its nbf passes: never cache that one.
    errorCacheTTL: (err: TokenError) => err.code === TokenError.codes.inactive
      ? -(tolerance + 1)
      : Math.max(-1, DEFAULT_ERROR_CACHE_MS - tolerance),
  }
}

// The key of a decoded token's alg/kid, as keys.keyFor finds it (NO_KEY when none may verify it).
export function keyForHeader (keys: KeySource, header: JoseHeader, cb: SecretCallback) {
  const found = keys.keyFor(header)
  if (typeof found === 'string') return cb(null, found)
  if (found === null) return cb(NO_KEY, undefined)
  found.then((key) => key === null ? cb(NO_KEY, undefined) : cb(null, key), () => cb(NO_KEY, undefined))
}

export function jwtOptions (keys: KeySource): FastifyJWTOptions {
  // Called with the decoded token (decode.complete: its header). Answers synchronously
  // for a known key; an unknown JWKS kid waits for the refresh (bounded by the JWKS wait).
  function keyForToken (_request: unknown, token: { header: JoseHeader }, cb: SecretCallback) {
    keyForHeader(keys, token.header, cb)
  }

  return {
    secret: keyForToken as FastifyJWTOptions['secret'],
    decode: { complete: true },
    verify: {
      ...verifyChecks(keys.jwt),
      // Only `Authorization: Bearer` (bearer.ts), never a query string or a cookie.
      extractToken: (request) => bearerToken(request.headers.authorization) ?? undefined,
    },
    // request.user is the caller's Identity, computed once per token (identity.ts).
    formatUser: identityOf,
  }
}
