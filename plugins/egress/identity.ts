import { createVerifier, TokenError } from 'fast-jwt'
import type { KeySource } from '../auth/keys.ts'
import { keyForHeader, verifyChecks } from '../auth/jwt-options.ts'
import { bearerToken, DEFAULT_MAX_TOKEN_BYTES } from '../auth/bearer.ts'
import { identityOf, type Claims, type Identity } from '../auth/identity.ts'

// Who is calling out: the JWT in Proxy-Authorization, as `Bearer <JWT>` or as the
// password of `Basic` (any user name: what `http://user:TOKEN@gateway:3128` in
// HTTPS_PROXY makes a client send), verified with auth.jwt's keys and checks, exactly as
// the public port verifies `Authorization: Bearer`.

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

export function createProxyAuthenticator (keys: KeySource | null): ProxyAuthenticator {
  const verifier = keys === null
    ? null
    : createVerifier({
      ...verifyChecks(keys.jwt),
      key: (decoded: { header: Record<string, unknown> }, cb: (err: Error | null, key: string) => void) =>
        keyForHeader(keys, decoded.header, (err, key) => cb(err, key ?? '')),
    })
  return {
    async verify (header) {
      const token = proxyToken(header)
      if (token === null) return { refused: 'Proxy-Authorization with a bearer token is required' }
      if (token === '' || token.length > DEFAULT_MAX_TOKEN_BYTES) return { refused: 'The proxy credentials are unusable' }
      // auth: required without auth.jwt is refused by `check`; fail closed regardless.
      if (verifier === null) return { refused: 'No key is configured to verify proxy tokens' }
      try {
        const identity = identityOf(await verifier(token) as Claims)
        if (identity.badSubject) return { refused: 'The token\'s sub claim cannot be used as a consumer id' }
        return { identity }
      } catch (err) {
        const code = (err as { code?: unknown }).code
        return { refused: code === TokenError.codes.expired ? 'The proxy token has expired' : 'The proxy token is invalid' }
      }
    },
  }
}
