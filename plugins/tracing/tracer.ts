import type { Tracer } from '@opentelemetry/api'
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider,
  type ReadableSpan, type Span, type SpanExporter, type SpanProcessor,
} from '@opentelemetry/sdk-trace'
import type { Context } from '@opentelemetry/api'
import type { TracingConfig } from './schema.ts'

// The OpenTelemetry SDK as the gateway runs it, for the gateway's lifetime (one provider
// per gateway instance, never the global one): spans batched and exported over OTLP/HTTP
// with JSON encoding. A collector that is slow or down never delays a request: export is
// off the request path, the queue is bounded, and every span that does not make it (a
// full queue, a failed or timed-out export) is counted in
// gatehouse_tracing_spans_dropped_total.

export interface TracingOptions {
  // Spans waiting for export, at most (ended, sampled, not yet exported).
  maxQueue: number
  batchSize: number
  // SPEC: spans are exported within 5 s.
  delayMs: number
  exportTimeoutMs: number
  // Tests hand in their own exporter; default: OTLP/HTTP JSON to config.url.
  exporter?: SpanExporter
}

export const DEFAULT_TRACING_OPTIONS: TracingOptions = { maxQueue: 2048, batchSize: 512, delayMs: 1000, exportTimeoutMs: 3000 }

export interface Tracing {
  tracer: Tracer
  // Exports what is queued (bounded by the export timeout), then stops.
  shutdown: () => Promise<void>
  forceFlush: () => Promise<void>
}

interface Counter { inc: (n?: number) => void }

// The bound on spans in the SDK: BatchSpanProcessor would drop silently when its queue is
// full, so the count is kept here, around it: a span enters when it ends and leaves when
// the export that carried it settles (SUCCESS or not).
class BoundedQueue {
  pending = 0
  readonly max: number
  readonly dropped: Counter

  constructor (max: number, dropped: Counter) {
    this.max = max
    this.dropped = dropped
  }
}

class CountingExporter implements SpanExporter {
  private readonly inner: SpanExporter
  private readonly queue: BoundedQueue

  constructor (inner: SpanExporter, queue: BoundedQueue) {
    this.inner = inner
    this.queue = queue
  }

  export (spans: ReadableSpan[], done: (result: ExportResult) => void) {
    this.inner.export(spans, (result) => {
      this.queue.pending -= spans.length
      if (result.code !== ExportResultCode.SUCCESS) this.queue.dropped.inc(spans.length)
      done(result)
    })
  }

  shutdown () { return this.inner.shutdown() }
  forceFlush () { return this.inner.forceFlush?.() ?? Promise.resolve() }
}

class BoundedProcessor implements SpanProcessor {
  private readonly inner: BatchSpanProcessor
  private readonly queue: BoundedQueue

  constructor (inner: BatchSpanProcessor, queue: BoundedQueue) {
    this.inner = inner
    this.queue = queue
  }

  onStart (span: Span, parent: Context) { this.inner.onStart(span, parent) }

  onEnd (span: ReadableSpan) {
    // Unsampled spans are never exported (BatchSpanProcessor skips them too).
    if ((span.spanContext().traceFlags & 1) === 0) return
    const q = this.queue
    if (q.pending >= q.max) {
      q.dropped.inc()
      return
    }
    q.pending++
    this.inner.onEnd(span)
  }

  shutdown () { return this.inner.shutdown() }
  forceFlush () { return this.inner.forceFlush() }
}

export function createTracing (config: TracingConfig, dropped: Counter, opts: TracingOptions = DEFAULT_TRACING_OPTIONS): Tracing {
  const queue = new BoundedQueue(opts.maxQueue, dropped)
  const exporter = opts.exporter ?? new OTLPTraceExporter({ url: config.url, timeoutMillis: opts.exportTimeoutMs })
  const batch = new BatchSpanProcessor({
    exporter: new CountingExporter(exporter, queue),
    // One more than ours: the SDK's own (silent) drop never happens.
    maxQueueSize: opts.maxQueue + 1,
    maxExportBatchSize: opts.batchSize,
    scheduledDelayMillis: opts.delayMs,
    exportTimeoutMillis: opts.exportTimeoutMs,
  })
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [new BoundedProcessor(batch, queue)],
  })
  return {
    tracer: provider.getTracer('gatehouse'),
    // What a failed final export lost is counted (CountingExporter); shutdown goes on.
    shutdown: () => provider.shutdown().catch(() => {}),
    forceFlush: () => provider.forceFlush(),
  }
}
