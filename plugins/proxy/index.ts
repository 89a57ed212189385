import fp from 'fastify-plugin'
import httpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy'
import type { Dispatcher } from 'undici'
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

// http-proxy's default handler returns what reply.from() returns: the reply, a thenable,
// which Fastify then awaits through an end-of-stream listener on the response, per
// request. reply-from answers through its own callbacks (onResponse, onError) either way,
// so the handler returns nothing and Fastify waits on nothing.
const proxyHandler: NonNullable<FastifyHttpProxyOptions['handler']> = function proxyHandler (_request, reply, dest, options) {
  reply.from(dest, options)
}

async function proxyPlugin (app: FastifyInstance, opts: ProxyPluginOptions) {
  const forward: ForwardOptions = { forwardAuthorization: opts.forwardAuthorization, isTrustedPeer: opts.isTrustedPeer }
  // reply-from calls request() on it; only its callback form is ever used (see
  // upstream-dispatcher.ts), which is what this one-place type widening says.
  const undici = opts.dispatcher as unknown as { request: Dispatcher['request'] }

  for (const svc of opts.services) {
    const { prefix, rewritePrefix } = svc.config
    const replyOptions = {
      // No `timeout`: reply-from would make it undici's (coarse) headers timeout and a body
      // stall limit too. The dispatcher times the call until response headers.
      // reply-from would retry a GET answered 503 up to ten times; SPEC: never retry after
      // the upstream answered. Retries before the request was sent live in the dispatcher.
      retryDelay: () => null,
      // reply-from's copy of the headers is not used: they are built from the client's
      // (forward-headers.ts), and Host is the dispatcher's, for the upstream it picks. The
      // upstream target rides along (upstream-path.ts): http-proxy maps the bare prefix
      // with a query (`/api/users?x=1`) onto the client's whole path; the dispatcher sends
      // ours, built from the path normalize-path.ts checked and http-proxy accepted.
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

    // One encapsulated @fastify/http-proxy per service: its routes carry the service in
    // their config.
    await app.register(async function serviceScope (scope) {
      // Bodies stream upstream as they came: http-proxy passes JSON and unknown types
      // through, but Fastify would parse text/plain into a UTF-8 string, which reply-from
      // then re-sends without its charset (a Latin-1 body would arrive mangled).
      scope.addContentTypeParser('text/plain', function passThrough (_request, payload, done) {
        done(null, payload)
      })
      // Its onRequest hook comes after every gateway-wide one (ip access, auth, rate limit).
      if (svc.config.websocket && opts.websocket !== undefined) await scope.register(websocketPlugin, { ...opts.websocket, svc, forward })
      const proxyOptions: FastifyHttpProxyOptions = {
        upstream: svc.config.upstreams[0]!,
        // The catch-all "/" is the root scope's own prefix: what no longer prefix matches.
        prefix: prefix === '/' ? '' : prefix,
        rewritePrefix,
        httpMethods: METHODS,
        config: { service: svc },
        internalRewriteLocationHeader: false,
        disableRequestLogging: true,
        undici,
        handler: proxyHandler,
        // Its hook types allow an HTTP/2 server's raw request; ours run on the default
        // (Node's HTTP/2 compat layer hands the same request shape).
        replyOptions: replyOptions as FastifyHttpProxyOptions['replyOptions'],
      }
      await scope.register(httpProxy, proxyOptions)
    })
  }
}

export default fp(proxyPlugin, { name: 'gatehouse-proxy', fastify: '5.x' })
