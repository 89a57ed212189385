import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import type { ServiceRuntime, UpstreamState } from '../../lib/service-runtime.ts'
import { NOTHING_TRIED } from '../breaker/balancer.ts'
import { createCallPath, type UpstreamHooks } from '../breaker/upstream-call.ts'
import { buildUpstreamHeaders, type ForwardOptions } from '../proxy/forward-headers.ts'
import { buildClientHeaders } from '../proxy/response-headers.ts'
import { decodesToDotSegment, upstreamTarget } from '../proxy/upstream-path.ts'
import { toClientError } from '../proxy/upstream-errors.ts'
import { BadRequest } from '../errors/errors.ts'
import { HandshakeAttempt } from './handshake-attempt.ts'
import { Tunnel, type Tunnels } from './tunnel.ts'
import { isWebSocketUpgrade, kUpgrade, type PendingUpgrade, type UpgradeRequest } from './upgrade-request.ts'

export { Tunnels } from './tunnel.ts'
export { acceptsWebSocket, upgradeResponse } from './upgrade-request.ts'

// WebSocket proxying for a `websocket: true` service. Registered in the service's own
// scope (plugins/proxy), so its onRequest hook runs after every gateway-wide one: an
// upgrade has passed ip access, auth and the rate limit (and counts once against it)
// before the upstream is contacted. Then the handshake, with the forwarding headers,
// goes down the same upstream-call path as any call (handshake-attempt.ts: load
// balancing, health, breaker, timing, metrics), and the client gets the upstream's 101
// (its subprotocol and extensions) or its refusal relayed. The 101 ends the HTTP
// exchange (access log and metrics see status 101); the tunnel lives on, counted by
// gatehouse_websocket_connections{service}.

// What the gateway gives every websocket service (plugins/proxy adds svc and forward).
export interface WebSocketOptions {
  upstreamHooks: readonly UpstreamHooks[]
  connections: GatewayMetrics['websocketConnections']
  timeouts: { connectMs: number, upstreamMs: number }
  // Open tunnels outlive the generation that opened them; shutdown closes them.
  tunnels: Tunnels
}

export interface WebSocketPluginOptions extends WebSocketOptions {
  svc: ServiceRuntime
  forward: ForwardOptions
}

// Upstream 101 headers the client must not see (who runs behind the gateway).
const BANNERS = ['server', 'x-powered-by']

async function websocketPlugin (scope: FastifyInstance, opts: WebSocketPluginOptions) {
  const { svc, forward, tunnels } = opts
  const callPath = createCallPath(opts.upstreamHooks)
  const gauge = opts.connections.labels({ service: svc.name })
  gauge.inc(0)
  const { connectMs, upstreamMs } = opts.timeouts
  const { prefix, rewritePrefix, upstreamTls } = svc.config

  // The client's upgrade request as the upstream gets it: hop-by-hop headers dropped
  // (those the client's Connection names too), the gateway's forwarding and identity
  // headers set as for any proxied call, then the upgrade itself asked for again.
  function handshakeHeaders (request: FastifyRequest, up: UpstreamState): IncomingHttpHeaders {
    const out = buildUpstreamHeaders(request, svc, forward)
    out.host = up.host
    out.connection = 'Upgrade'
    out.upgrade = 'websocket'
    return out
  }

  function switchingHeaders (upstream: IncomingHttpHeaders, request: FastifyRequest, reply: FastifyReply): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = { ...(reply.getHeaders() as OutgoingHttpHeaders), ...upstream }
    for (const name of BANNERS) delete out[name]
    out['x-request-id'] = String(request.id)
    return out
  }

  // Ends with the reply hijacked (101, tunnel), sent (the upstream's refusal) or
  // abandoned (the client left); a gateway error is thrown for the error handler.
  async function open (request: FastifyRequest, reply: FastifyReply, pending: PendingUpgrade): Promise<void> {
    // The same target as a plain request's: SPEC's path rules hold for upgrades too.
    const path = upstreamTarget(request.url, prefix, rewritePrefix)
    if (decodesToDotSegment(path)) throw new BadRequest('The request target leaves the service prefix')
    const up = callPath.select(svc, NOTHING_TRIED)
    if (up instanceof Error) throw up
    const attempt = new HandshakeAttempt(callPath, svc, request.gw, up, {
      path,
      headers: handshakeHeaders(request, up),
      tls: upstreamTls,
      connectMs,
      timeoutMs: svc.timeoutMs,
    })
    const clientGone = () => attempt.abort()
    pending.socket.once('close', clientGone)
    try {
      const refused = attempt.start()
      if (refused !== null) throw refused
      await attempt.ended
    } finally {
      pending.socket.off('close', clientGone)
    }
    const err = attempt.error
    if (err !== null) {
      if (attempt.kind === 'aborted') return
      request.log.warn({ err, upstream: up.origin }, 'websocket handshake with the upstream failed')
      throw toClientError(attempt.kind!)
    }
    const result = attempt.result!
    const status = attempt.statusCode!

    if (!result.upgraded) {
      // The upstream refused the upgrade: the client gets its answer, as for any call.
      reply.code(status).headers(buildClientHeaders({ ...result.res.headers }, request, svc, forward.isTrustedPeer)).send(result.res)
      return
    }
    const client = pending.socket
    if (client.destroyed) {
      result.socket.destroy()
      return
    }
    pending.upgraded = true
    reply.hijack()
    // Through the ServerResponse, so 'finish' runs onResponse (metrics, access log: 101).
    const res = reply.raw
    res.writeHead(101, switchingHeaders(result.res.headers, request, reply))
    res.end()
    up.inflight++
    gauge.inc()
    const tunnel: Tunnel = new Tunnel({
      client,
      upstream: result.socket,
      clientHead: pending.head,
      upstreamHead: result.head,
      idleMs: upstreamMs,
      onEnd () {
        up.inflight--
        gauge.dec()
        tunnels.delete(tunnel)
      },
    })
    tunnels.add(tunnel)
  }

  scope.addHook('onRequest', function websocketUpgrade (request, reply, done) {
    const pending = (request.raw as UpgradeRequest)[kUpgrade]
    if (pending === undefined || !isWebSocketUpgrade(request.raw)) {
      done()
      return
    }
    // No done() on success: the reply is hijacked or already sent, the hooks stop here.
    open(request, reply, pending).catch(done)
  })
}

export default fp(websocketPlugin, { name: 'gatehouse-websocket', fastify: '5.x' })
