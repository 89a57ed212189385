import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { observeResponses } from '../request-context/index.ts'
import { levelEnabled } from '../../lib/log-level.ts'
import { performance } from 'node:perf_hooks'

export interface AccessLogPluginOptions {
  // `logging.access`: false = no line per request (and no hook).
  enabled: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    gwClientIp: string | null
  }
}

export const ACCESS_LOG_MSG = 'request'
export const ABORTED_LOG_MSG = 'request aborted'

// The fields of SPEC.md ("Operations", Logs) besides pino's time/level and the reqId the
// request logger carries. Built from the request context only: never headers, so no
// Authorization or cookie can reach the line, and the path is cut at `?`, so no query value.
export interface AccessLogLine {
  traceId: string | null
  method: string
  path: string
  service: string | null
  upstream: string | null
  status: number
  durationMs: number
  upstreamDurationMs: number | null
  consumer: string | null
  clientIp: string | null
  code?: string
}

function round3 (ms: number): number {
  return Math.round(ms * 1000) / 1000
}

export function accessLogLine (request: FastifyRequest, status: number): AccessLogLine {
  const gw = request.gw
  const url = request.url
  const q = url.indexOf('?')
  const line: AccessLogLine = {
    traceId: gw ? gw.traceId : null,
    method: request.method,
    path: q === -1 ? url : url.slice(0, q),
    service: gw?.service?.name ?? null,
    upstream: gw ? gw.upstream : null,
    status,
    durationMs: gw ? round3(performance.now() - gw.startMs) : 0,
    upstreamDurationMs: gw && gw.upstreamMs !== null ? round3(gw.upstreamMs) : null,
    consumer: gw ? gw.consumer : null,
    clientIp: request.gwClientIp ?? request.ip ?? null,
  }
  if (gw && gw.code !== null) line.code = gw.code
  return line
}

// One JSON line per request at info, through the request's logger (it carries reqId).
// `logging.access: false`, or a level above info, registers nothing: no per-request cost.
async function accessLogPlugin (app: FastifyInstance, opts: AccessLogPluginOptions) {
  if (!opts.enabled || !levelEnabled(app.log, 'info')) return

  // Node drops req.socket once a connection is closed (a client that left, a request
  // whose unread body made Node close it after the answer), and the ip with it: read it
  // while the request is young. Requests stopped before this hook read it at the end.
  app.decorateRequest('gwClientIp', null)
  app.addHook('onRequest', function captureClientIp (request, _reply, done) {
    request.gwClientIp = request.ip ?? null
    done()
  })
  observeResponses(app, function logRequest (request: FastifyRequest, statusCode: number, aborted: boolean) {
    request.log.info(accessLogLine(request, statusCode), aborted ? ABORTED_LOG_MSG : ACCESS_LOG_MSG)
  })
}

export default fp(accessLogPlugin, { name: 'gatehouse-access-log', fastify: '5.x', dependencies: ['gatehouse-request-context'] })
