import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { GatewayMetrics } from './gateway-metrics.ts'
import { UNMATCHED_SERVICE } from './gateway-metrics.ts'
import { createHttpSeries } from './http-series.ts'
import { observeResponses } from '../request-context/index.ts'
import { performance } from 'node:perf_hooks'

export { createGatewayMetrics, UNMATCHED_SERVICE, LATENCY_BUCKETS, type GatewayMetrics } from './gateway-metrics.ts'
export { upstreamMetricsHooks } from './upstream-metrics.ts'
export { RequestWindow, type WindowCounts } from './request-window.ts'

export interface MetricsPluginOptions {
  metrics: GatewayMetrics
}

// Request metrics of one generation: every request is counted by service, method and
// status, and its gateway-side duration (first hook to last byte) observed. Upstream
// time is recorded apart by upstreamMetricsHooks (app.ts), so the difference between
// the two histograms is what the gateway adds.
async function metricsPlugin (app: FastifyInstance, opts: MetricsPluginOptions) {
  const series = createHttpSeries(opts.metrics)
  const recent = opts.metrics.recentRequests
  observeResponses(app, function recordRequestMetrics (request: FastifyRequest, statusCode: number) {
    const gw = request.gw
    const service = gw?.service?.name ?? UNMATCHED_SERVICE
    const seconds = gw ? (performance.now() - gw.startMs) / 1000 : 0
    series.record(service, request.method, statusCode, seconds)
    recent.record(service, statusCode)
  })
}

export default fp(metricsPlugin, { name: 'gatehouse-metrics', fastify: '5.x', dependencies: ['gatehouse-request-context'] })
