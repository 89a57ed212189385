import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import { newTraceContext, parseTraceparent } from './trace-context.ts'
import { BadRequest } from '../errors/errors.ts'
import { createEndWatch, endWatchOf } from './request-end.ts'
// The global `performance` is a lazy getter, called on every use; the import is a binding.
import { performance } from 'node:perf_hooks'

export { requestIdFor } from './request-id.ts'
export { observeResponses, onResponseClosed, CLIENT_CLOSED_REQUEST, type ResponseObserver } from './request-end.ts'

// Per-request state shared by the plugins of one request. One object, created once in
// the first onRequest hook, so later hooks and the access log read plain fields.
export interface RequestContext {
  service: ServiceRuntime | null
  startMs: number
  traceparent: string
  traceId: string
  consumer: string | null
  scopes: string | null // space-separated, as X-Consumer-Scopes carries them
  upstream: string | null
  upstreamStartMs: number
  upstreamMs: number | null
  code: string | null
  // Set when the gateway put rate-limit headers on the answer; the upstream's own are dropped.
  rateLimitHeaders: boolean
  // The raw response, so code that only sees the request can tell when the client left.
  res: ServerResponse
  // The upstream call in flight (plugins/proxy), aborted when the client leaves before
  // its answer is complete.
  upstreamCall: { abort: () => void } | null
  // The request's SERVER span while tracing is on (plugins/tracing); null otherwise.
  span: unknown
}

declare module 'fastify' {
  interface FastifyRequest {
    gw: RequestContext
  }
  interface FastifyContextConfig {
    service?: ServiceRuntime
  }
}

// Also used where Fastify answers before any hook ran (frameworkErrors).
export function newRequestContext (request: FastifyRequest, res: ServerResponse, service: ServiceRuntime | null): RequestContext {
  const trace = parseTraceparent(request.headers.traceparent as string | undefined) ?? newTraceContext()
  return {
    service,
    startMs: performance.now(),
    traceparent: trace.traceparent,
    traceId: trace.traceId,
    consumer: null,
    scopes: null,
    upstream: null,
    upstreamStartMs: 0,
    upstreamMs: null,
    code: null,
    rateLimitHeaders: false,
    res,
    upstreamCall: null,
    span: null,
  }
}

// Set by the URL normaliser (rewriteUrl runs before routing, where it cannot answer).
export const kBadTarget = Symbol('gatehouse.badTarget')

// For frameworkErrors, which answer before any hook ran: call before answering. Gives the
// request the context the hook would have made (unmatched, timed from now, its trace id;
// sendProblem fills in `code`) and reports its end to metrics and the access log.
export function frameworkResponse (request: FastifyRequest, reply: { raw: ServerResponse }) {
  const watchEnd = endWatchOf(request.server)
  if (watchEnd === undefined) return
  if (!request.gw) request.gw = newRequestContext(request, reply.raw, null)
  watchEnd(request, reply.raw)
}

// The first onRequest hook of every request: its context, and the watch for its end
// (request-end.ts), in one hook.
async function requestContextPlugin (app: FastifyInstance) {
  app.decorateRequest('gw', null as unknown as RequestContext)
  const watchEnd = createEndWatch(app)
  app.addHook('onRequest', function createRequestContext (request, reply, done) {
    const res = reply.raw
    request.gw = newRequestContext(request, res, request.routeOptions.config.service ?? null)
    watchEnd(request, res)
    const bad = (request.raw as unknown as Record<symbol, string | undefined>)[kBadTarget]
    if (bad !== undefined) {
      request.gw.service = null
      done(new BadRequest(bad))
      return
    }
    done()
  })
}

export default fp(requestContextPlugin, { name: 'gatehouse-request-context', fastify: '5.x' })
