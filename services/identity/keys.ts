// RS256 signing key for the identity sample: given as PEM or made at start.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'

export interface SigningKey {
  privatePem: string
  kid: string
  jwk: { kty: 'RSA'; n: string; e: string; kid: string; alg: 'RS256'; use: 'sig' }
}

export function loadSigningKey (privatePem?: string): SigningKey {
  const key = privatePem
    ? createPrivateKey(privatePem)
    : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  if (key.asymmetricKeyType !== 'rsa') {
    throw new Error(`identity key must be an RSA private key, got ${key.asymmetricKeyType}`)
  }
  const { n, e } = createPublicKey(key).export({ format: 'jwk' })
  if (!n || !e) throw new Error('could not export the RSA public key')
  // RFC 7638 thumbprint: the same public key always gets the same kid.
  const kid = createHash('sha256').update(JSON.stringify({ e, kty: 'RSA', n })).digest('base64url')
  return {
    privatePem: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
    kid,
    jwk: { kty: 'RSA', n, e, kid, alg: 'RS256', use: 'sig' },
  }
}
