import type { FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import { connectionListed } from './connection-header.ts'
import { publicHost, publicProto } from './public-origin.ts'

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
  svc: ServiceRuntime, isTrustedPeer: (address: string | undefined) => boolean): IncomingHttpHeaders {
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
  if (typeof location === 'string') out.location = rewriteLocation(location, request, svc, isTrustedPeer(request.socket.remoteAddress))
  out['x-request-id'] = request.id
  return out
}

// Redirects must send clients back through the gateway, never to an upstream address:
// a Location on an upstream origin, or (with rewritePrefix) a path under rewritePrefix,
// becomes an absolute URL on the public scheme, host and prefix (SPEC "Sent back").
export function rewriteLocation (location: string, request: FastifyRequest, svc: ServiceRuntime, trusted: boolean): string {
  const { prefix, rewritePrefix } = svc.config
  let path: string | null
  if (/^(?:https?:)?\/\//i.test(location)) {
    let url: URL
    try {
      url = new URL(location, svc.upstreams[0]!.origin)
    } catch {
      return location
    }
    if (!svc.upstreams.some((u) => u.origin === url.origin)) return location
    path = (toPublicPath(url.pathname, prefix, rewritePrefix) ?? url.pathname) + url.search + url.hash
  } else if (rewritePrefix !== '' && location.startsWith('/')) {
    path = toPublicPath(location, prefix, rewritePrefix)
    if (path === null) return location
  } else {
    return location
  }
  const host = publicHost(request, trusted)
  return SAFE_HOST.test(host) ? `${publicProto(request, trusted)}://${host}${path}` : path
}

// `path` is an upstream path (a query may follow); null when it is not under rewritePrefix.
function toPublicPath (path: string, prefix: string, rewritePrefix: string): string | null {
  if (rewritePrefix === '') return underPrefix(prefix, path === '/' ? '' : path)
  if (path === rewritePrefix || path.startsWith(rewritePrefix.endsWith('/') ? rewritePrefix : rewritePrefix + '/') ||
    path.startsWith(rewritePrefix + '?')) {
    return underPrefix(prefix, path.slice(rewritePrefix.length))
  }
  return null
}

// The public path for what follows the prefix ("", "/..." or "?..."); the catch-all
// prefix "/" adds no segment of its own.
function underPrefix (prefix: string, rest: string): string {
  if (prefix !== '/') return prefix + rest
  return rest === '' || rest.charCodeAt(0) !== 47 /* / */ ? '/' + rest : rest
}
