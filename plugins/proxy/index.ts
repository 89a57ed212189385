import fp from 'fastify-plugin'
import replyFrom from '@fastify/reply-from'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import * as E from '../errors/errors.ts'
import { sendProblem } from '../errors/index.ts'
import { buildUpstreamHeaders, type ForwardOptions } from './forward-headers.ts'
import { buildClientHeaders } from './response-headers.ts'
import { upstreamTarget } from './upstream-path.ts'
import { kProxyCall, type ProxyCall } from './upstream-dispatcher.ts'
import { classify, rootCause, toClientError } from './upstream-errors.ts'
import websocketPlugin, { type WebSocketOptions } from '../websocket/index.ts'

export { normalizeTarget } from './normalize-path.ts'
export { createUpstreamDispatcher, kProxyCall } from './upstream-dispatcher.ts'
export type { UpstreamHooks, UpstreamOutcome } from './upstream-dispatcher.ts'

export interface ProxyPluginOptions extends ForwardOptions {
  services: ServiceRuntime[]
  // The object reply-from calls `request()` on (see upstream-dispatcher.ts).
  // It also enforces server.bodyLimit.
  dispatcher: { request: (...args: never[]) => unknown }
  // For `websocket: true` services; without it upgrades are served as plain requests.
  websocket?: WebSocketOptions
}

// Methods proxied; CONNECT and TRACE are never forwarded (TRACE echoes credentials).
const METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS']

async function proxyPlugin (app: FastifyInstance, opts: ProxyPluginOptions) {
  const forward: ForwardOptions = { forwardAuthorization: opts.forwardAuthorization, isTrustedPeer: opts.isTrustedPeer }

  for (const svc of opts.services) {
    const { prefix, rewritePrefix } = svc.config
    // reply-from's own mapping of a request onto its `base` is not used: its check (and
    // http-proxy's) decodes the path and refuses any `..` in it, `/..%2f` inside one
    // segment included, which SPEC forwards as it came. The upstream target is ours
    // (upstream-path.ts, from the path normalize-path.ts already checked), set on the
    // call by the dispatcher; reply-from gets one constant source, which it always accepts.
    const replyOptions = {
      // No `timeout`: reply-from would make it undici's (coarse) headers timeout and a body
      // stall limit too. The dispatcher times the call until response headers.
      // reply-from would retry a GET answered 503 up to ten times; SPEC: never retry after
      // the upstream answered. Retries before the request was sent live in the dispatcher.
      retryDelay: () => null,
      // reply-from's copy of the headers is not used: they are built from the client's
      // (forward-headers.ts), and Host is the dispatcher's, for the upstream it picks.
      rewriteRequestHeaders (request: FastifyRequest) {
        const out = buildUpstreamHeaders(request, svc, forward) as Record<string | symbol, unknown>
        out[kProxyCall] = { request, svc, path: upstreamTarget(request.url, prefix, rewritePrefix) } satisfies ProxyCall
        return out as IncomingHttpHeaders
      },
      rewriteHeaders (headers: IncomingHttpHeaders, request: FastifyRequest) {
        return buildClientHeaders(headers, request, svc, opts.isTrustedPeer)
      },
      onError (reply: FastifyReply, { error }: { error: Error }) {
        const cause = rootCause(error)
        if (E.isGatewayError(cause)) {
          sendProblem(reply.request, reply, cause)
          return
        }
        const kind = classify(cause)
        if (kind === 'aborted' && reply.raw.destroyed) return
        sendProblem(reply.request, reply, toClientError(kind))
      },
    }
    function forwardRequest (_request: FastifyRequest, reply: FastifyReply) {
      return reply.from('/', replyOptions as never)
    }

    // One encapsulated scope per service: its routes carry the service in their config.
    await app.register(async function serviceScope (scope) {
      // Bodies stream upstream as they came, whatever their type: never parsed, never
      // re-encoded (Fastify would decode text/plain as UTF-8, and reply-from re-send it
      // without its charset: a Latin-1 body would arrive mangled).
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', function passThrough (_request, payload, done) {
        done(null, payload)
      })
      // Its onRequest hook comes after every gateway-wide one (ip access, auth, rate limit).
      if (svc.config.websocket && opts.websocket !== undefined) await scope.register(websocketPlugin, { ...opts.websocket, svc, forward })
      await scope.register(replyFrom, {
        base: svc.config.upstreams[0]!,
        undici: opts.dispatcher as never,
        disableRequestLogging: true,
      })
      // The bare prefix and everything under it; the router's longest match picks the
      // service, so the catch-all prefix "/" gets only what no other prefix matches.
      const config = { service: svc }
      scope.route({ method: METHODS, url: prefix, config, handler: forwardRequest })
      scope.route({ method: METHODS, url: prefix === '/' ? '/*' : prefix + '/*', config, handler: forwardRequest })
    })
  }
}

export default fp(proxyPlugin, { name: 'gatehouse-proxy', fastify: '5.x' })
