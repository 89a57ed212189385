// How long an upstream response may be served from the cache (RFC 9111 as a shared
// cache), bounded by the service's `cache.ttl`. 0 = not stored at all.

interface Directives {
  noStore: boolean
  private: boolean
  noCache: boolean
  sMaxAge: number | null // seconds
  maxAge: number | null // seconds
}

function headerString (value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

function seconds (raw: string | undefined): number | null {
  if (raw === undefined) return null
  const n = Number(raw.replace(/^"|"$/g, ''))
  // A malformed delta cannot make a response fresh.
  return Number.isInteger(n) && n >= 0 ? n : 0
}

export function parseCacheControl (value: string): Directives {
  const out: Directives = { noStore: false, private: false, noCache: false, sMaxAge: null, maxAge: null }
  for (const part of value.split(',')) {
    const eq = part.indexOf('=')
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase()
    const arg = eq === -1 ? undefined : part.slice(eq + 1).trim()
    switch (name) {
      case 'no-store': out.noStore = true; break
      // `private="field"` and `no-cache="field"` are treated as the unqualified forms:
      // a shared cache that cannot strip the field safely must not store.
      case 'private': out.private = true; break
      case 'no-cache': out.noCache = true; break
      case 's-maxage': out.sMaxAge = seconds(arg); break
      case 'max-age': out.maxAge = seconds(arg); break
    }
  }
  return out
}

// `headers`: the response's (lower-case names). Returns the TTL in ms, or 0.
export function storableTtlMs (headers: Record<string, unknown>, limitMs: number, nowMs: number): number {
  const cc = headerString(headers['cache-control'])
  let lifetime: number | null = null
  if (cc !== undefined) {
    const d = parseCacheControl(cc)
    if (d.noStore || d.private || d.noCache) return 0
    lifetime = d.sMaxAge ?? d.maxAge
  } else if (/no-cache/i.test(headerString(headers.pragma) ?? '')) {
    return 0
  }
  if (lifetime === null) {
    const expires = headerString(headers.expires)
    if (expires !== undefined) {
      const at = Date.parse(expires)
      // An invalid Expires means "already expired" (RFC 9111 §5.3).
      if (Number.isNaN(at)) return 0
      const date = Date.parse(headerString(headers.date) ?? '')
      lifetime = Math.floor((at - (Number.isNaN(date) ? nowMs : date)) / 1000)
    }
  }
  if (lifetime === null) return limitMs
  const remainingMs = (lifetime - initialAge(headers)) * 1000
  return remainingMs > 0 ? Math.min(limitMs, remainingMs) : 0
}

// Seconds the response had already spent in caches upstream of us (its Age header).
export function initialAge (headers: Record<string, unknown>): number {
  const n = Number(headerString(headers.age))
  return Number.isInteger(n) && n > 0 ? n : 0
}
