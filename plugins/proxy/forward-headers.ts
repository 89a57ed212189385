import type { FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { ServiceRuntime } from '../../apps/gateway/runtime/service-runtime.ts'

// Hop-by-hop headers (RFC 9110 7.6.1) plus the proxy's own credentials. `connection` and
// the names it lists were already removed by reply-from before this runs, so a client can
// never use `Connection: x-request-id` to drop a header the gateway sets below.
const HOP_BY_HOP_REQUEST = new Set(['keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'http2-settings'])

export interface ForwardOptions {
  forwardAuthorization: boolean
  isTrustedPeer: (address: string | undefined) => boolean
}

// One pass into a fresh object (deleting keys would put every request's header object in
// V8's slow dictionary mode), then the gateway's own headers on top.
export function buildUpstreamHeaders (request: FastifyRequest, incoming: IncomingHttpHeaders,
  svc: ServiceRuntime, opts: ForwardOptions): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {}
  for (const name in incoming) {
    if (HOP_BY_HOP_REQUEST.has(name) && !(name === 'te' && incoming.te === 'trailers')) continue
    // Identity is asserted by the gateway only; whatever the client sent is discarded.
    if (name.startsWith('x-consumer-')) continue
    if (name === 'authorization' && !opts.forwardAuthorization) continue
    headers[name] = incoming[name]
  }

  const peer = request.socket.remoteAddress
  const trusted = opts.isTrustedPeer(peer)
  const incomingFor = headers['x-forwarded-for']
  headers['x-forwarded-for'] = incomingFor ? `${incomingFor}, ${peer ?? ''}` : (peer ?? '')
  const clientProto = headers['x-forwarded-proto']
  if (!trusted || typeof clientProto !== 'string' || clientProto === '') {
    headers['x-forwarded-proto'] = (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'
  }
  const clientHost = headers['x-forwarded-host']
  if (!trusted || typeof clientHost !== 'string' || clientHost === '') {
    // HTTP/2 carries the host in :authority, not Host.
    headers['x-forwarded-host'] = request.headers.host ?? (request.headers[':authority'] as string | undefined) ?? ''
  }
  const outerPrefix = trusted ? headers['x-forwarded-prefix'] : undefined
  headers['x-forwarded-prefix'] = typeof outerPrefix === 'string' && outerPrefix !== '' && outerPrefix !== '/'
    ? outerPrefix.replace(/\/+$/, '') + svc.config.prefix
    : svc.config.prefix
  headers['x-request-id'] = String(request.id)
  const gw = request.gw
  headers.traceparent = gw.traceparent
  if (gw.consumer !== null) {
    headers['x-consumer-id'] = gw.consumer
    headers['x-consumer-scopes'] = gw.scopes ?? ''
  }
  return headers
}
