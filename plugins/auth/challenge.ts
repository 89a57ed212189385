import { Forbidden, Unauthorized, withHeaders } from '../errors/errors.ts'

// RFC 6750 3: the challenge names the realm; `error` only when a token was sent.
const REALM = 'Bearer realm="gatehouse"'
export const MISSING_CHALLENGE = REALM
export const INVALID_CHALLENGE = `${REALM}, error="invalid_token"`

function quoted (value: string): string {
  return value.replace(/["\\]/g, '\\$&')
}

export function insufficientScopeChallenge (scopes: string[]): string {
  const base = `${REALM}, error="insufficient_scope"`
  return scopes.length === 0 ? base : `${base}, scope="${quoted(scopes.join(' '))}"`
}

export type FailureReason = 'missing' | 'invalid' | 'expired' | 'scope'

export function missingToken () {
  return withHeaders(new Unauthorized('A bearer token is required'), { 'www-authenticate': MISSING_CHALLENGE })
}

export function invalidToken (detail: string) {
  return withHeaders(new Unauthorized(detail), { 'www-authenticate': INVALID_CHALLENGE })
}

export function insufficientScope (scopes: string[], challenge: string) {
  return withHeaders(new Forbidden(`The token lacks a required scope (needs: ${scopes.join(' ')})`), { 'www-authenticate': challenge })
}
