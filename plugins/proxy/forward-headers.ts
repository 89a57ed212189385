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

// Set by the gateway only: a client's own values are read below, never copied as they came.
const GATEWAY_SET = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-prefix', 'x-request-id', 'traceparent']
const NOT_COPIED = new Set([...HOP_BY_HOP_REQUEST, ...GATEWAY_SET])

// A fresh object (deleting keys would put every request's header object in V8's slow
// dictionary mode) that starts as one literal of the gateway's own headers, so those
// share one shape and one allocation; the client's other headers are copied after.
export function buildUpstreamHeaders (request: FastifyRequest, incoming: IncomingHttpHeaders,
  svc: ServiceRuntime, opts: ForwardOptions): IncomingHttpHeaders {
  const peer = request.socket.remoteAddress
  const trusted = opts.isTrustedPeer(peer)
  const incomingFor = incoming['x-forwarded-for']
  const clientProto = incoming['x-forwarded-proto']
  const clientHost = incoming['x-forwarded-host']
  const outerPrefix = trusted ? incoming['x-forwarded-prefix'] : undefined
  const gw = request.gw
  const headers: IncomingHttpHeaders = {
    'x-forwarded-for': incomingFor ? `${incomingFor}, ${peer ?? ''}` : (peer ?? ''),
    'x-forwarded-proto': trusted && typeof clientProto === 'string' && clientProto !== ''
      ? clientProto
      : (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
    'x-forwarded-host': trusted && typeof clientHost === 'string' && clientHost !== ''
      ? clientHost
      // HTTP/2 carries the host in :authority, not Host.
      : request.headers.host ?? (request.headers[':authority'] as string | undefined) ?? '',
    'x-forwarded-prefix': typeof outerPrefix === 'string' && outerPrefix !== '' && outerPrefix !== '/'
      ? outerPrefix.replace(/\/+$/, '') + svc.config.prefix
      : svc.config.prefix,
    'x-request-id': String(request.id),
    traceparent: gw.traceparent,
  }
  for (const name in incoming) {
    if (NOT_COPIED.has(name)) {
      // The one TE value a proxy may pass on (RFC 9110 10.1.4).
      if (name === 'te' && incoming.te === 'trailers') headers.te = 'trailers'
      continue
    }
    // Identity is asserted by the gateway only; whatever the client sent is discarded.
    if (name.startsWith('x-consumer-')) continue
    if (name === 'authorization' && !opts.forwardAuthorization) continue
    headers[name] = incoming[name]
  }
  if (gw.consumer !== null) {
    headers['x-consumer-id'] = gw.consumer
    headers['x-consumer-scopes'] = gw.scopes ?? ''
  }
  return headers
}
