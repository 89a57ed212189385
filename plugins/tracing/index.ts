import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api'
import type { AttemptTracer, UpstreamAttempt } from '../breaker/upstream-call.ts'
import type { UpstreamState } from '../../lib/service-runtime.ts'
import { observeResponses } from '../request-context/index.ts'

export { createTracing, DEFAULT_TRACING_OPTIONS, type Tracing, type TracingOptions } from './tracer.ts'

// SPEC "Tracing": one SERVER span per request, one CLIENT span per upstream attempt, with
// the attempt's span id as the parent id of the traceparent sent upstream, and the trace id
// the access log shows. Spans are started with an explicit parent (no context manager, no
// async hooks). Without a `tracing` section none of this is registered: no hook, no cost.

export interface TracingPluginOptions {
  tracer: Tracer | null
}

const flagsHex = (flags: number) => (flags & 1) === 1 ? '01' : '00'

// traceparent = 00-<trace id 32>-<parent id 16>-<flags 2>, validated by request-context.
function remoteParent (traceparent: string) {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceparent.slice(3, 35),
    spanId: traceparent.slice(36, 52),
    traceFlags: Number.parseInt(traceparent.slice(53, 55), 16) & 1,
    isRemote: true,
  })
}

async function tracingPlugin (app: FastifyInstance, opts: TracingPluginOptions) {
  const tracer = opts.tracer
  if (tracer === null) return

  app.addHook('onRequest', function startServerSpan (request, _reply, done) {
    const gw = request.gw
    const svc = gw.service
    // request-context kept the client's traceparent only when it was valid; else it made one.
    const parent = gw.traceparent === request.headers.traceparent ? remoteParent(gw.traceparent) : ROOT_CONTEXT
    const span = tracer.startSpan(svc === null ? request.method : `${request.method} ${svc.config.prefix}`, {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method,
        'gatehouse.service': svc === null ? 'unmatched' : svc.name,
        ...(svc === null ? {} : { 'http.route': svc.config.prefix }),
      },
    }, parent)
    const sc = span.spanContext()
    gw.span = span
    gw.traceId = sc.traceId
    // What goes upstream when no attempt sets its own (attempts do: attemptSpans below).
    gw.traceparent = `00-${sc.traceId}-${sc.spanId}-${flagsHex(sc.traceFlags)}`
    done()
  })

  observeResponses(app, (request, statusCode) => {
    const span = request.gw.span as Span | null
    if (span === null) return
    request.gw.span = null
    span.setAttribute('http.response.status_code', statusCode)
    const code = request.gw.code
    if (code !== null) span.setAttribute('gatehouse.code', code)
    if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
    span.end()
  })
}

interface Address { address: string, port: number }
const addresses = new WeakMap<UpstreamState, Address>()

function addressOf (up: UpstreamState): Address {
  let a = addresses.get(up)
  if (a === undefined) {
    const url = new URL(up.origin)
    a = { address: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) }
    addresses.set(up, a)
  }
  return a
}

// The CLIENT spans, on the upstream-call path (UpstreamHooks.tracer), for HTTP and WebSocket.
export function attemptSpans (tracer: Tracer): AttemptTracer {
  return {
    start (a: UpstreamAttempt) {
      const parent = a.gw.span as Span | null
      if (parent === null) return
      const { address, port } = addressOf(a.up)
      const span = tracer.startSpan(a.method, {
        kind: SpanKind.CLIENT,
        attributes: { 'http.request.method': a.method, 'server.address': address, 'server.port': port },
      }, trace.setSpan(ROOT_CONTEXT, parent))
      const sc = span.spanContext()
      a.span = span
      a.traceparent = `00-${sc.traceId}-${sc.spanId}-${flagsHex(sc.traceFlags)}`
    },
    end (a: UpstreamAttempt) {
      const span = a.span as Span | null
      if (span === null) return
      a.span = null
      if (a.statusCode !== null) {
        span.setAttribute('http.response.status_code', a.statusCode)
        if (a.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
      } else if (a.kind !== null) {
        span.setAttribute('error.type', a.kind)
        if (a.kind !== 'aborted') span.setStatus({ code: SpanStatusCode.ERROR })
      }
      span.end()
    },
  }
}

export default fp(tracingPlugin, { name: 'gatehouse-tracing', fastify: '5.x', dependencies: ['gatehouse-request-context'] })
