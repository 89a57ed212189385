import fp from 'fastify-plugin'
import httpProxy from '@fastify/http-proxy'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import * as E from '../errors/errors.ts'
import { sendProblem } from '../errors/index.ts'
import { buildUpstreamHeaders, type ForwardOptions } from './forward-headers.ts'
import { buildClientHeaders } from './response-headers.ts'
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
    // One encapsulated http-proxy per service: its routes carry the service in their config.
    await app.register(async function serviceScope (scope) {
      // Bodies stream upstream as they came: http-proxy passes JSON and unknown types
      // through, but Fastify would parse text/plain into a UTF-8 string, which reply-from
      // then re-sends without its charset (a Latin-1 body would arrive mangled).
      scope.addContentTypeParser('text/plain', function passThrough (_request, payload, done) {
        done(null, payload)
      })
      // Its onRequest hook comes after every gateway-wide one (ip access, auth, rate limit).
      if (svc.config.websocket && opts.websocket !== undefined) await scope.register(websocketPlugin, { ...opts.websocket, svc, forward })

      await scope.register(httpProxy, {
        upstream: svc.config.upstreams[0]!,
        prefix: svc.config.prefix,
        rewritePrefix: svc.config.rewritePrefix,
        httpMethods: METHODS,
        config: { service: svc },
        internalRewriteLocationHeader: false,
        disableRequestLogging: true,
        undici: opts.dispatcher as never,
        replyOptions: {
          // No `timeout`: reply-from would make it undici's (coarse) headers timeout and a body
          // stall limit too. The dispatcher times the call until response headers.
          // reply-from would retry a GET answered 503 up to ten times; SPEC: never retry after
          // the upstream answered. Retries before the request was sent live in the dispatcher.
          retryDelay: () => null,
          // reply-from's copy of the headers is not used: they are built from the client's
          // (forward-headers.ts), and Host is the dispatcher's, for the upstream it picks.
          rewriteRequestHeaders (request: FastifyRequest) {
            const out = buildUpstreamHeaders(request, svc, forward) as Record<string | symbol, unknown>
            out[kProxyCall] = { request, svc } satisfies ProxyCall
            return out as IncomingHttpHeaders
          },
          rewriteHeaders (headers: IncomingHttpHeaders, request: FastifyRequest) {
            return buildClientHeaders(headers, request, svc)
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
        },
      } as never)
    })
  }
}

export default fp(proxyPlugin, { name: 'gatehouse-proxy', fastify: '5.x' })
