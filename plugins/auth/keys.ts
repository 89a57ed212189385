import type { JwtConfig } from './schema.ts'

// The JOSE header as the token's decoder parsed it: attacker-controlled JSON, so every
// member is checked before use.
export interface JoseHeader {
  alg?: unknown
  kid?: unknown
}

// The key that verifies a token (an HMAC secret or a public key PEM, always a string:
// @fastify/jwt keeps one verifier, and its cache, per key string), found without waiting
// (static keys, a known JWKS kid), or a bounded wait for a JWKS refresh (resolving to
// null when the key is still unknown), or null: no key may verify this token.
export type KeyLookup = string | Promise<string | null> | null

// Finds a key by the token's alg (and kid): a key is only ever returned for an alg that
// the allow-list permits and that its own type can verify.
export type KeyFinder = (alg: string, kid: string | undefined) => KeyLookup

// Where verification keys come from: auth.jwt's secret, publicKey or jwksUrl, or a secret
// beside one of the other two (the token's alg picks which). Lives as long as the gateway
// (GatewayContext.auth), across config generations.
export interface KeySource {
  kind: 'secret' | 'publicKey' | 'jwks' | 'secret+publicKey' | 'secret+jwks'
  // The auth.jwt these keys serve (restart-only, like the keys): issuer, audience,
  // algorithms and clock tolerance are checked against it.
  jwt: JwtConfig
  keyFor: (header: JoseHeader) => KeyLookup
  // Settles when the first key load is over (at once for static keys); never rejects.
  ready: Promise<void>
  // Changes whenever the key set may have (a JWKS fetch installed a set): what was
  // verified under an older revision is verified again (plugins/auth/token-memo.ts).
  revision: () => number
  close: () => Promise<void>
}

// The asymmetric half of a key source (a public key or a JWKS).
export interface AsymmetricKeys {
  keyFor: KeyFinder
  ready: Promise<void>
  revision: () => number
  close: () => Promise<void>
}
