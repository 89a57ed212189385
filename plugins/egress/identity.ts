import { createVerifier, TokenError } from 'fast-jwt'
import type { KeySource } from '../auth/keys.ts'
import { keyForHeader, verifyChecks } from '../auth/jwt-options.ts'
import { bearerToken, DEFAULT_MAX_TOKEN_BYTES } from '../auth/bearer.ts'
import { identityOf, type Claims, type Identity } from '../auth/identity.ts'
import { TokenMemo } from '../auth/token-memo.ts'

// Who is calling out: the JWT in Proxy-Authorization, as `Bearer <JWT>` or as the
// password of `Basic` (any user name: what `http://user:TOKEN@gateway:3128` in
// HTTPS_PROXY makes a client send), verified with auth.jwt's keys and checks, exactly as
// the public port verifies `Authorization: Bearer`, with the same token memo in front:
// a client resends one token, and verifying it each time (base64, JSON, HMAC or RSA) was
// ~4 µs of the ~75 an absolute-form request costs the egress port.

export const PROXY_CHALLENGE = 'Bearer realm="gatehouse", Basic realm="gatehouse"'

export type Verdict = { identity: Identity } | { refused: string }

// The token in a Proxy-Authorization value, null when there is none, '' when unusable.
export function proxyToken (header: string | undefined): string | null {
  if (header === undefined) return null
  const bearer = bearerToken(header)
  if (bearer !== null) return bearer
  if (!/^basic[ \t]/i.test(header)) return ''
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('latin1')
  const colon = decoded.indexOf(':')
  return colon === -1 ? '' : decoded.slice(colon + 1)
}

export interface ProxyAuthenticator {
  verify: (header: string | undefined) => Promise<Verdict>
}

type Verifier = (token: string) => Promise<unknown>

// fast-jwt's cache answers a token it has seen before it asks for a key, so a verifier
// made before the key set changed (a JWKS fetch dropped a key) would keep accepting that
// key's tokens for the cache's lifetime. One verifier per key-set revision: a new set
// starts with empty caches, as the public port's per-key verifiers do.
function verifierFor (keys: KeySource): () => Verifier {
  const make = (): Verifier => createVerifier({
    ...verifyChecks(keys.jwt),
    key: (decoded: { header: Record<string, unknown> }, cb: (err: Error | null, key: string) => void) =>
      keyForHeader(keys, decoded.header, (err, key) => cb(err, key ?? '')),
  })
  let revision = keys.revision()
  let verifier = make()
  return () => {
    const now = keys.revision()
    if (now !== revision) {
      revision = now
      verifier = make()
    }
    return verifier
  }
}

export function createProxyAuthenticator (keys: KeySource | null): ProxyAuthenticator {
  const verifier = keys === null ? null : verifierFor(keys)
  const memo = keys === null ? null : new TokenMemo(keys.jwt.clockToleranceMs, keys.revision)
  return {
    async verify (header) {
      const token = proxyToken(header)
      if (token === null) return { refused: 'Proxy-Authorization with a bearer token is required' }
      if (token === '' || token.length > DEFAULT_MAX_TOKEN_BYTES) return { refused: 'The proxy credentials are unusable' }
      // auth: required without auth.jwt is refused by `check`; fail closed regardless.
      if (verifier === null || memo === null) return { refused: 'No key is configured to verify proxy tokens' }
      const now = Date.now()
      const known = memo.get(token, now)
      if (known !== undefined) return { identity: known }
      try {
        const identity = identityOf(await verifier()(token) as Claims)
        if (identity.badSubject) return { refused: 'The token\'s sub claim cannot be used as a consumer id' }
        memo.set(token, identity, now)
        return { identity }
      } catch (err) {
        const code = (err as { code?: unknown }).code
        return { refused: code === TokenError.codes.expired ? 'The proxy token has expired' : 'The proxy token is invalid' }
      }
    },
  }
}
