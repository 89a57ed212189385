import type { FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'

import { connectionListed } from './connection-header.ts'

// Hop-by-hop headers (RFC 9110 7.6.1) plus the proxy's own credentials. The names the
// client's Connection lists are dropped too, but the gateway's own headers are set apart
// from the copy, so `Connection: x-request-id` cannot remove one of them.
const HOP_BY_HOP_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'http2-settings'])

export interface ForwardOptions {
  forwardAuthorization: boolean
  isTrustedPeer: (address: string | undefined) => boolean
}

// Set by the gateway only: a client's own values are read below, never copied as they came.
const GATEWAY_SET = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-prefix', 'x-request-id', 'traceparent']
const NOT_COPIED = new Set([...HOP_BY_HOP_REQUEST, ...GATEWAY_SET])

// The request headers an upstream gets. Read from the headers object Node's parser made
// (fast properties): reply-from's copy of it has had `connection` deleted, which turns an
// object into a slow dictionary, and most clients send Connection. Built as a fresh
// object that starts as one literal of the gateway's own headers (one shape, one
// allocation); the client's other headers are copied after. Host is left to the caller
// (the dispatcher, the WebSocket handshake): it names the upstream picked.
// Bodies are never re-encoded on the way (plugins/proxy), so their headers are the client's.
export function buildUpstreamHeaders (request: FastifyRequest, svc: ServiceRuntime, opts: ForwardOptions): IncomingHttpHeaders {
  const incoming = request.raw.headers
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
      : incoming.host ?? (incoming[':authority'] as string | undefined) ?? '',
    'x-forwarded-prefix': typeof outerPrefix === 'string' && outerPrefix !== '' && outerPrefix !== '/'
      ? outerPrefix.replace(/\/+$/, '') + (svc.config.prefix === '/' ? '' : svc.config.prefix)
      : svc.config.prefix,
    'x-request-id': request.id, // a string: genReqId is requestIdFor
    traceparent: gw.traceparent,
  }
  const connection = incoming.connection
  // `keep-alive` / `close` (nearly every request) name no other header.
  const listed = typeof connection === 'string' && connection !== 'keep-alive' && connection !== 'close'
    ? connectionListed(connection)
    : null
  for (const name in incoming) {
    // HTTP/2 pseudo-headers (:method, :path, ...) and the host, which the caller sets.
    if (name.charCodeAt(0) === 58 || name === 'host' || (listed !== null && listed.has(name))) continue
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
