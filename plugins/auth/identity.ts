// Verified claims; each key's verifier cache hands back the same object for every hit,
// which lets identityOf memoise what it derives from it.
export type Claims = Record<string | symbol, unknown>

// Who the caller is, as the upstream and the policy see it.
export interface Identity {
  consumer: string | null // JWT sub
  scopes: string // space-separated, computed once per token
  scopeSet: Set<string>
  // The sub cannot travel as an X-Consumer-Id header value (control characters, too long).
  badSubject: boolean
  // The token's exp claim (seconds since the epoch), null without one; the token memo
  // (token-memo.ts) forgets the token then.
  exp: number | null
}

const kIdentity = Symbol('gatehouse.identity')

// sub goes upstream as a header: printable ASCII only, bounded.
const SUBJECT = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/
// RFC 6749 3.3 scope-token: %x21 / %x23-5B / %x5D-7E. Anything else is dropped, never
// forwarded (it could not be one of our configured scopes anyway).
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

function addScopes (out: Set<string>, value: unknown) {
  if (typeof value === 'string') {
    for (const s of value.split(' ')) if (s !== '' && SCOPE_TOKEN.test(s)) out.add(s)
  } else if (Array.isArray(value)) {
    for (const s of value) if (typeof s === 'string' && SCOPE_TOKEN.test(s)) out.add(s)
  }
}

// Scopes are the union of `scope` (space-separated, RFC 8693) and the `scp` / `scopes`
// arrays (a space-separated `scp`, as some identity providers send, is read too).
export function identityOf (claims: Claims): Identity {
  const memo = claims[kIdentity] as Identity | undefined
  if (memo !== undefined) return memo
  const scopeSet = new Set<string>()
  addScopes(scopeSet, claims.scope)
  addScopes(scopeSet, claims.scp)
  addScopes(scopeSet, claims.scopes)
  const sub = claims.sub
  const consumer = typeof sub === 'string' ? sub : null
  const identity: Identity = {
    consumer,
    scopes: [...scopeSet].join(' '),
    scopeSet,
    badSubject: consumer !== null && !SUBJECT.test(consumer),
    exp: typeof claims.exp === 'number' ? claims.exp : null,
  }
  // The verifier's cache hands back the same claims object for the same token, so this
  // is computed once per token, not once per request.
  Object.defineProperty(claims, kIdentity, { value: identity })
  return identity
}
