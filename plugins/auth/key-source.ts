import { createPublicKey } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { JwtConfig } from './schema.ts'
import { algorithmsForKey, allowedFor, HMAC_ALGORITHMS } from './key-algorithms.ts'
import { createJwksKeySource, DEFAULT_JWKS_OPTIONS, type JwksOptions } from './jwks.ts'
import { createVerify, DEFAULT_VERIFY_CACHE_SIZE, type Verify } from './verifier.ts'
import { createHeaderReader } from './bearer.ts'

// The verifier for a token, found without waiting (static keys, a known JWKS kid), or a
// bounded wait for a JWKS refresh (resolving to null when the key is still unknown), or
// null: no key can verify this token.
export type KeyLookup = Verify | Promise<Verify | null> | null

// Where verification keys come from: auth.jwt's secret, publicKey or jwksUrl, or a secret
// beside one of the other two (the token's alg picks which). Lives as long as the gateway
// (GatewayContext.auth), across config generations.
export interface KeySource {
  kind: 'secret' | 'publicKey' | 'jwks' | 'secret+publicKey' | 'secret+jwks'
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
  // The secret only ever verifies HMAC algorithms, whatever the allow-list says.
  const hmac = jwt.secret === undefined
    ? null
    : staticSource('secret', createVerify(jwt.secret, allowedFor(jwt.algorithms, HMAC_ALGORITHMS), jwt, verifyOpts))
  const asymmetric = asymmetricSource(jwt, logger, opts, verifyOpts)
  if (hmac !== null && asymmetric !== null) return eitherSource(hmac, asymmetric)
  const only = hmac ?? asymmetric
  if (only === null) throw new Error('auth.jwt has no key source (secret, publicKey or jwksUrl)')
  return only
}

// HS* tokens go to the secret, every other alg to the public keys: a token can never get
// its signature checked by a key of the other kind.
function eitherSource (hmac: KeySource, asymmetric: KeySource): KeySource {
  const header = createHeaderReader()
  return {
    kind: asymmetric.kind === 'jwks' ? 'secret+jwks' : 'secret+publicKey',
    verifierFor (token) {
      const alg = header(token)?.alg
      return alg !== undefined && alg.startsWith('HS') ? hmac.verifierFor(token) : asymmetric.verifierFor(token)
    },
    ready: asymmetric.ready,
    close: asymmetric.close,
  }
}

function asymmetricSource (jwt: JwtConfig, logger: FastifyBaseLogger, opts: AuthKeyOptions,
  verifyOpts: { cacheSize: number }): KeySource | null {
  if (jwt.publicKey !== undefined) {
    // A public key never verifies HS*: an HS256 token "signed" with the public key as
    // its HMAC secret is refused on its alg before any signature work.
    const algorithms = allowedFor(jwt.algorithms, algorithmsForKey(createPublicKey(jwt.publicKey)))
    return staticSource('publicKey', createVerify(jwt.publicKey, algorithms, jwt, verifyOpts))
  }
  if (jwt.jwksUrl !== undefined) {
    return createJwksKeySource(jwt.jwksUrl, jwt, logger, { ...DEFAULT_JWKS_OPTIONS, ...opts.jwks }, verifyOpts)
  }
  return null
}
