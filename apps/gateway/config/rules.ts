// Value rules the schema cannot express well. Each returns the user-facing message
// of what is wrong (or the normalised value), never throws.

// Characters a prefix may hold: RFC 3986 pchar minus "%" (an escape would let two
// spellings name one path) and "*" (the route wildcard).
const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()+,;=:@/]/

export function pathProblem (p: string, what: 'prefix' | 'path'): string | null {
  if (!p.startsWith('/')) return 'must start with /'
  // The prefix "/" is the catch-all: it gets what no other prefix matches (SPEC).
  if (p === '/') return what === 'prefix' ? null : 'must not be / alone'
  if (p.endsWith('/')) return `must not end with / (write ${p.replace(/\/+$/, '') || '/api/users'})`
  for (const ch of p) if (!PATH_CHAR.test(ch)) return `must not contain ${JSON.stringify(ch)}`
  const segments = p.slice(1).split('/')
  if (segments.includes('')) return 'must not contain empty segments (//)'
  if (segments.some(s => s === '.' || s === '..')) return 'must not contain . or .. segments'
  return null
}

// Route paths are public paths under the service prefix; only a final `/*` is special.
// Under the catch-all prefix "/", `/` (the root alone) and `/*` (everything else) are too.
export function routePathProblem (p: string, prefix: string | null): string | null {
  const base = p.endsWith('/*') ? p.slice(0, -2) || '/' : p
  if (base.includes('*')) return 'may only use * as a final /* segment'
  if (base !== '/') {
    const problem = pathProblem(base, 'path')
    if (problem !== null) return problem
  }
  if (prefix !== null && prefix !== '/' && base !== prefix && !base.startsWith(prefix + '/')) return `must start with the service prefix ${prefix}`
  return null
}

export function upstreamOrigin (u: string): { origin: string } | { error: string } {
  let url: URL
  try {
    url = new URL(u)
  } catch {
    return { error: 'must be an http(s) URL' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: 'must be an http(s) URL' }
  if (url.username !== '' || url.password !== '') return { error: 'must not contain credentials' }
  if (u.includes('?') || u.includes('#')) return { error: 'must not contain a query or fragment' }
  if (url.pathname !== '/') return { error: `must be an origin without a path (got ${url.pathname}; use rewritePrefix)` }
  return { origin: url.origin }
}
