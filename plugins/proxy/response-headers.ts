import type { FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import { connectionListed } from './connection-header.ts'

// Hop-by-hop headers (RFC 9110 7.6.1) and banners, which tell an attacker what runs
// behind the gateway.
const DROPPED = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'te',
  'trailer', 'transfer-encoding', 'upgrade', 'server', 'x-powered-by'])
// On a route the gateway limits, its own budget is the one clients must see.
const RATE_LIMIT_HEADERS = new Set(['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit-policy', 'ratelimit'])

// A Host we would echo into a Location must look like a host, nothing more.
const SAFE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

// One pass into a fresh object: deleting keys would push every response's header object
// into V8's slow dictionary mode, on the hottest path of the gateway.
export function buildClientHeaders (headers: IncomingHttpHeaders, request: FastifyRequest,
  svc: ServiceRuntime): IncomingHttpHeaders {
  const connection = headers.connection
  // `keep-alive` / `close` (nearly every response) name no other header.
  const listed = typeof connection === 'string' && connection !== 'keep-alive' && connection !== 'close'
    ? connectionListed(connection)
    : null
  const limited = request.gw.rateLimitHeaders
  const out: IncomingHttpHeaders = {}
  for (const name in headers) {
    if (DROPPED.has(name) || (limited && RATE_LIMIT_HEADERS.has(name)) || (listed !== null && listed.has(name))) continue
    out[name] = headers[name]
  }
  const location = out.location
  if (typeof location === 'string') out.location = rewriteLocation(location, request, svc)
  out['x-request-id'] = request.id
  return out
}

// Redirects must send clients back through the gateway, never to an upstream address.
export function rewriteLocation (location: string, request: FastifyRequest, svc: ServiceRuntime): string {
  const { prefix, rewritePrefix } = svc.config
  if (/^(?:https?:)?\/\//i.test(location)) {
    let url: URL
    try {
      url = new URL(location, svc.upstreams[0]!.origin)
    } catch {
      return location
    }
    if (!svc.upstreams.some((u) => u.origin === url.origin)) return location
    const publicPath = toPublicPath(url.pathname, prefix, rewritePrefix) ?? url.pathname
    const host = request.host
    const path = publicPath + url.search + url.hash
    return SAFE_HOST.test(host) ? `${request.protocol}://${host}${path}` : path
  }
  if (rewritePrefix !== '' && location.startsWith('/')) {
    return toPublicPath(location, prefix, rewritePrefix) ?? location
  }
  return location
}

function toPublicPath (path: string, prefix: string, rewritePrefix: string): string | null {
  if (rewritePrefix === '') return prefix + (path === '/' ? '' : path)
  if (path === rewritePrefix || path.startsWith(rewritePrefix.endsWith('/') ? rewritePrefix : rewritePrefix + '/') ||
    path.startsWith(rewritePrefix + '?')) {
    return prefix + path.slice(rewritePrefix.length)
  }
  return null
}
