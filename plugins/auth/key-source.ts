import { createPublicKey } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { JwtConfig } from '../../apps/gateway/config/types.ts'
import { algorithmsForKey, allowedFor, HMAC_ALGORITHMS } from './key-algorithms.ts'
import { createJwksKeySource, DEFAULT_JWKS_OPTIONS, type JwksOptions } from './jwks.ts'
import { createVerify, DEFAULT_VERIFY_CACHE_SIZE, type Verify } from './verifier.ts'

// The verifier for a token, found without waiting (static keys, a known JWKS kid), or a
// bounded wait for a JWKS refresh (resolving to null when the key is still unknown), or
// null: no key can verify this token.
export type KeyLookup = Verify | Promise<Verify | null> | null

// Where verification keys come from: exactly one of auth.jwt's secret, publicKey, jwksUrl.
// Lives as long as the gateway (GatewayContext.auth), across config generations.
export interface KeySource {
  kind: 'secret' | 'publicKey' | 'jwks'
  verifierFor: (token: string) => KeyLookup
  // Settles when the first key load is over (at once for static keys); never rejects.
  ready: Promise<void>
  close: () => Promise<void>
}

// Internal tuning, not config keys (unknown config keys are errors): tests shorten the
// JWKS cool-down and timeouts through BuildOptions.auth.
export interface AuthKeyOptions {
  jwks?: Partial<JwksOptions>
  verifyCacheSize?: number
}

function staticSource (kind: 'secret' | 'publicKey', verify: Verify): KeySource {
  return {
    kind,
    verifierFor: () => verify,
    ready: Promise.resolve(),
    close: async () => {},
  }
}

export function createKeySource (jwt: JwtConfig, logger: FastifyBaseLogger, opts: AuthKeyOptions = {}): KeySource {
  const verifyOpts = { cacheSize: opts.verifyCacheSize ?? DEFAULT_VERIFY_CACHE_SIZE }
  if (jwt.secret !== undefined) {
    // The secret only ever verifies HMAC algorithms, whatever the allow-list says.
    return staticSource('secret', createVerify(jwt.secret, allowedFor(jwt.algorithms, HMAC_ALGORITHMS), jwt, verifyOpts))
  }
  if (jwt.publicKey !== undefined) {
    // A public key never verifies HS*: an HS256 token "signed" with the public key as
    // its HMAC secret is refused on its alg before any signature work.
    const algorithms = allowedFor(jwt.algorithms, algorithmsForKey(createPublicKey(jwt.publicKey)))
    return staticSource('publicKey', createVerify(jwt.publicKey, algorithms, jwt, verifyOpts))
  }
  if (jwt.jwksUrl !== undefined) {
    return createJwksKeySource(jwt.jwksUrl, jwt, logger, { ...DEFAULT_JWKS_OPTIONS, ...opts.jwks }, verifyOpts)
  }
  throw new Error('auth.jwt has no key source (secret, publicKey or jwksUrl)')
}
