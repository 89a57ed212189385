// A stored 200 response: the upstream's headers (minus per-request ones), its body, and
// what is needed to compute Age and to match the response's own Vary.
export interface CacheEntry {
  headers: Record<string, string | string[]>
  body: Buffer
  storedAt: number // ms since the epoch
  expiresAt: number // ms since the epoch
  initialAge: number // seconds old when stored (the upstream's Age)
  // Request headers the response named in Vary beyond the service's `cache.vary` (those
  // are in the key already), with the storing request's values: a later request matches
  // only with the same values (one variant per key, RFC 9111 §4.1).
  vary: string[]
  varyValues: string[]
}

// Headers that belong to one exchange, not to the stored response: the gateway's own
// (request id, rate-limit state, cache status), Age (recomputed on every hit) and
// connection-level ones.
const PER_REQUEST = new Set([
  'x-request-id', 'x-cache', 'age', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset',
  'ratelimit', 'ratelimit-policy', 'retry-after', 'connection', 'keep-alive', 'transfer-encoding', 'set-cookie',
])

export function storedHeaders (headers: Record<string, string | number | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const name of Object.keys(headers)) {
    if (PER_REQUEST.has(name)) continue
    const value = headers[name]
    if (value === undefined) continue
    out[name] = Array.isArray(value) ? value.map(String) : String(value)
  }
  return out
}

export function entrySize (entry: CacheEntry): number {
  // Headers are small; a flat allowance keeps the byte bound honest without walking them.
  return entry.body.length + 512
}

export function requestHeaderValue (value: string | string[] | undefined): string {
  if (value === undefined) return ''
  return Array.isArray(value) ? value.join(', ') : value
}

export function varyMatches (entry: CacheEntry, headers: Record<string, string | string[] | undefined>): boolean {
  for (let i = 0; i < entry.vary.length; i++) {
    if (requestHeaderValue(headers[entry.vary[i]!]) !== entry.varyValues[i]) return false
  }
  return true
}

// Redis value: 4-byte big-endian length of the JSON metadata, the metadata, the body.
export function encodeEntry (entry: CacheEntry): Buffer {
  const meta = Buffer.from(JSON.stringify({
    h: entry.headers, s: entry.storedAt, e: entry.expiresAt, a: entry.initialAge, v: entry.vary, vv: entry.varyValues,
  }))
  const head = Buffer.allocUnsafe(4)
  head.writeUInt32BE(meta.length, 0)
  return Buffer.concat([head, meta, entry.body])
}

// null for anything that is not a value encodeEntry wrote (a foreign or damaged key is a miss).
export function decodeEntry (buf: Buffer): CacheEntry | null {
  try {
    if (buf.length < 4) return null
    const len = buf.readUInt32BE(0)
    if (4 + len > buf.length) return null
    const m = JSON.parse(buf.subarray(4, 4 + len).toString()) as {
      h: Record<string, string | string[]>, s: number, e: number, a: number, v: string[], vv: string[]
    }
    if (typeof m.h !== 'object' || typeof m.s !== 'number' || typeof m.e !== 'number' ||
      !Array.isArray(m.v) || !Array.isArray(m.vv)) return null
    return { headers: m.h, body: buf.subarray(4 + len), storedAt: m.s, expiresAt: m.e, initialAge: m.a ?? 0, vary: m.v, varyValues: m.vv }
  } catch {
    return null
  }
}
