import type { KeyObject } from 'node:crypto'

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const

const EC_CURVE_ALG: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }

// The JWT algorithms a public key can verify. A token's `alg` must be one of these for
// the key that checks it, so an RSA key can never be fed to HMAC (RS/HS confusion) and
// an EC key only verifies its own curve.
export function algorithmsForKey (key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'rsa-pss': return ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const alg = EC_CURVE_ALG[key.asymmetricKeyDetails?.namedCurve ?? '']
      return alg === undefined ? [] : [alg]
    }
    case 'ed25519':
    case 'ed448': return ['EdDSA']
    default: return []
  }
}

// The configured allow-list narrowed to what this key can do; `none` never survives.
export function allowedFor (configured: readonly string[], keyAlgorithms: readonly string[]): string[] {
  return configured.filter((alg) => alg !== 'none' && keyAlgorithms.includes(alg))
}
