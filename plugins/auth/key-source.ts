import { createPublicKey } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { JwtConfig } from './schema.ts'
import { algorithmsForKey, allowedFor, HMAC_ALGORITHMS } from './key-algorithms.ts'
import { createJwksKeySource, DEFAULT_JWKS_OPTIONS, type JwksOptions } from './jwks.ts'
import type { AsymmetricKeys, KeyFinder, KeySource } from './keys.ts'

export type { KeyLookup, KeySource } from './keys.ts'

// Internal tuning, not config keys (unknown config keys are errors): tests shorten the
// JWKS cool-down and timeouts through BuildOptions.auth.
export interface AuthKeyOptions {
  jwks?: Partial<JwksOptions>
}

// Keys from the config file never change while the gateway runs.
const STATIC_REVISION = () => 0

// One key and the algorithms it may verify (the allow-list narrowed to its type).
function staticKey (key: string, algorithms: string[], what: string): KeyFinder {
  if (algorithms.length === 0) throw new Error(`no JWT algorithm of auth.jwt.algorithms fits the ${what}`)
  return (alg) => algorithms.includes(alg) ? key : null
}

export function createKeySource (jwt: JwtConfig, logger: FastifyBaseLogger, opts: AuthKeyOptions = {}): KeySource {
  // The secret only ever verifies HMAC algorithms, whatever the allow-list says.
  const hmac = jwt.secret === undefined ? null : staticKey(jwt.secret, allowedFor(jwt.algorithms, HMAC_ALGORITHMS), 'secret')
  const asymmetric = asymmetricKeys(jwt, logger, opts)
  if (hmac === null && asymmetric === null) throw new Error('auth.jwt has no key source (secret, publicKey or jwksUrl)')
  const kind = hmac === null
    ? (jwt.jwksUrl !== undefined ? 'jwks' : 'publicKey')
    : asymmetric === null ? 'secret' : (jwt.jwksUrl !== undefined ? 'secret+jwks' : 'secret+publicKey')
  return {
    kind,
    jwt,
    // HS* tokens go to the secret, every other alg to the public keys: a token can never
    // get its signature checked by a key of the other kind.
    keyFor (header) {
      const alg = header.alg
      if (typeof alg !== 'string') return null
      if (alg.startsWith('HS')) return hmac === null ? null : hmac(alg, undefined)
      if (asymmetric === null) return null
      return asymmetric.keyFor(alg, typeof header.kid === 'string' ? header.kid : undefined)
    },
    ready: asymmetric?.ready ?? Promise.resolve(),
    revision: asymmetric?.revision ?? STATIC_REVISION,
    close: asymmetric?.close ?? (async () => {}),
  }
}

function asymmetricKeys (jwt: JwtConfig, logger: FastifyBaseLogger, opts: AuthKeyOptions): AsymmetricKeys | null {
  if (jwt.publicKey !== undefined) {
    const key = createPublicKey(jwt.publicKey)
    // A public key never verifies HS*: an HS256 token "signed" with the public key as
    // its HMAC secret is refused on its alg before any signature work. The key goes on
    // as a canonical SPKI PEM, whatever the file held around its PEM block.
    const pem = key.export({ type: 'spki', format: 'pem' }).toString()
    return { keyFor: staticKey(pem, allowedFor(jwt.algorithms, algorithmsForKey(key)), 'publicKey'), ready: Promise.resolve(), revision: STATIC_REVISION, close: async () => {} }
  }
  if (jwt.jwksUrl !== undefined) {
    return createJwksKeySource(jwt.jwksUrl, jwt, logger, { ...DEFAULT_JWKS_OPTIONS, ...opts.jwks })
  }
  return null
}
