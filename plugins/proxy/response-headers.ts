import type { FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { ServiceRuntime } from '../../apps/gateway/runtime/service-runtime.ts'

const HOP_BY_HOP_RESPONSE = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'te',
  'trailer', 'transfer-encoding', 'upgrade']
// On a route the gateway limits, its own budget is the one clients must see.
const RATE_LIMIT_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit-policy', 'ratelimit']
// Banners tell an attacker what runs behind the gateway.
const BANNERS = ['server', 'x-powered-by']

// A Host we would echo into a Location must look like a host, nothing more.
const SAFE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

export function buildClientHeaders (headers: IncomingHttpHeaders, request: FastifyRequest,
  svc: ServiceRuntime): IncomingHttpHeaders {
  const listed = headers.connection
  if (typeof listed === 'string') {
    for (const name of listed.split(',')) {
      const n = name.trim().toLowerCase()
      if (n !== '') delete headers[n]
    }
  }
  for (let i = 0; i < HOP_BY_HOP_RESPONSE.length; i++) delete headers[HOP_BY_HOP_RESPONSE[i]!]
  for (let i = 0; i < BANNERS.length; i++) delete headers[BANNERS[i]!]
  if (request.gw.rateLimitHeaders) {
    for (let i = 0; i < RATE_LIMIT_HEADERS.length; i++) delete headers[RATE_LIMIT_HEADERS[i]!]
  }
  const location = headers.location
  if (typeof location === 'string') headers.location = rewriteLocation(location, request, svc)
  headers['x-request-id'] = String(request.id)
  return headers
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
