import type { FastifyRequest } from 'fastify'

// The scheme and host a client used to reach the gateway (SPEC "public"): its connection
// and Host, or X-Forwarded-Proto / X-Forwarded-Host when the peer is a trusted proxy.
// Read from the socket and headers directly: Fastify's `request.protocol` is undefined
// when it finds no socket on the request, and would have printed `undefined://`.

export function publicProto (request: FastifyRequest, trusted: boolean): 'http' | 'https' {
  if (trusted) {
    const forwarded = firstValue(request.headers['x-forwarded-proto'])?.toLowerCase()
    if (forwarded === 'https' || forwarded === 'http') return forwarded
  }
  return (request.raw.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http'
}

export function publicHost (request: FastifyRequest, trusted: boolean): string {
  const headers = request.headers
  if (trusted) {
    const forwarded = firstValue(headers['x-forwarded-host'])
    if (forwarded !== undefined && forwarded !== '') return forwarded
  }
  // HTTP/2 carries the host in :authority, not Host.
  return headers.host ?? (headers[':authority'] as string | undefined) ?? ''
}

// The left-most entry: what the first proxy, the one the client talked to, saw.
function firstValue (value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  const s = typeof value === 'string' ? value : value[0]
  if (s === undefined) return undefined
  const comma = s.indexOf(',')
  return (comma === -1 ? s : s.slice(0, comma)).trim()
}
