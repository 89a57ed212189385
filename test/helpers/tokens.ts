// Signing JWTs for the tests: one signer for every area, HS256 with a shared secret by
// default; the auth tests pass their own keys, algorithms and claims.
import { createSigner, type Algorithm } from 'fast-jwt'

export const JWT_SECRET = 'gatehouse-tests-secret-0123456789abcdef'

export interface SignOptions {
  key?: string | Buffer
  algorithm?: Algorithm
  kid?: string
  // Milliseconds of validity, used only when the claims carry no exp of their own
  // (fast-jwt would overwrite it); 0 signs a token without exp.
  expiresIn?: number
}

// `claims` as a string is shorthand for { sub }.
export function sign (claims: string | Record<string, unknown>, opts: SignOptions = {}): string {
  const payload = typeof claims === 'string' ? { sub: claims } : claims
  const expiresIn = 'exp' in payload ? 0 : (opts.expiresIn ?? 60_000)
  return createSigner({
    key: opts.key ?? JWT_SECRET,
    algorithm: opts.algorithm ?? 'HS256',
    ...(expiresIn > 0 ? { expiresIn } : {}),
    ...(opts.kid !== undefined ? { kid: opts.kid } : {}),
  })(payload)
}

export function bearer (token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}
