import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { FastCounter, FastHistogram } from './fast-metrics.ts'
import { RequestWindow } from './request-window.ts'

// Every metric of SPEC.md's table, registered on one Registry per gateway instance (never
// prom-client's global one), so two gateways in one process never clash. Names and label
// sets are the contract; label values are bounded (service names from config,
// `unmatched`, upstream origins), never raw paths or consumer ids.

// About 1 ms to 30 s: a gateway's own overhead sits at the bottom, upstream timeouts at the top.
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export const UNMATCHED_SERVICE = 'unmatched'

export type CircuitStateValue = 0 | 1 | 2 // closed, half-open, open

// `to` of gatehouse_circuit_transitions_total: label values are snake_case (SPEC), the
// breaker's own state names are not.
export const CIRCUIT_TRANSITION_LABEL = { closed: 'closed', 'half-open': 'half_open', open: 'open' } as const

export function createGatewayMetrics (registry: Registry = new Registry()) {
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const metrics = {
    registry,
    httpRequests: new FastCounter({
      name: 'gatehouse_http_requests_total',
      help: 'Requests answered by the gateway, by service, method and status code',
      labelNames: ['service', 'method', 'code'] as const,
      registers,
    }),
    httpDuration: new FastHistogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'Time from request start to response end at the gateway',
      labelNames: ['service', 'method'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamDuration: new FastHistogram({
      name: 'gatehouse_upstream_request_duration_seconds',
      help: 'Time from sending the request upstream to its response headers (or to the failure of the call)',
      labelNames: ['service', 'upstream'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamErrors: new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Failed upstream calls by kind (timeout, refused, reset, status_5xx)',
      labelNames: ['service', 'upstream', 'kind'] as const,
      registers,
    }),
    circuitState: new Gauge({
      name: 'gatehouse_circuit_state',
      help: 'Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open',
      labelNames: ['service', 'upstream'] as const,
      registers,
    }),
    circuitTransitions: new Counter({
      name: 'gatehouse_circuit_transitions_total',
      help: 'Circuit breaker state changes per upstream, by the state entered (open, half_open, closed)',
      labelNames: ['service', 'upstream', 'to'] as const,
      registers,
    }),
    upstreamUp: new Gauge({
      name: 'gatehouse_upstream_up',
      help: '1 when the upstream passes its health check (or has none), 0 when marked down',
      labelNames: ['service', 'upstream'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'gatehouse_rate_limited_total',
      help: 'Requests refused with 429 by the rate limiter',
      labelNames: ['service'] as const,
      registers,
    }),
    rateLimitStoreDegraded: new Gauge({
      name: 'gatehouse_ratelimit_store_degraded',
      help: '1 while the shared rate-limit store (Redis) is unreachable',
      registers,
    }),
    registryDegraded: new Gauge({
      name: 'gatehouse_registry_degraded',
      help: '1 while the cluster registry (Redis) is unreachable: running routes serve on, admin writes answer 503',
      registers,
    }),
    authFailures: new Counter({
      name: 'gatehouse_auth_failures_total',
      help: 'Rejected authentications by reason (missing, invalid, expired, scope)',
      labelNames: ['service', 'reason'] as const,
      registers,
    }),
    configReloads: new Counter({
      name: 'gatehouse_config_reloads_total',
      help: 'Configuration reloads by result',
      labelNames: ['result'] as const,
      registers,
    }),
    cacheRequests: new Counter({
      name: 'gatehouse_cache_requests_total',
      help: 'GET/HEAD requests to services with a response cache, by result (hit, miss, bypass)',
      labelNames: ['service', 'result'] as const,
      registers,
    }),
    websocketConnections: new Gauge({
      name: 'gatehouse_websocket_connections',
      help: 'Open WebSocket connections proxied per service',
      labelNames: ['service'] as const,
      registers,
    }),
    tracingSpansDropped: new Counter({
      name: 'gatehouse_tracing_spans_dropped_total',
      help: 'Spans not exported: the export queue was full, or the collector failed or timed out',
      registers,
    }),
    // Egress (plugins/egress): destination is an allow entry's `host` or `denied`, never
    // a resolved address or a path. Fast counters: every egress request touches both.
    egressRequests: new FastCounter({
      name: 'gatehouse_egress_requests_total',
      help: 'Egress requests and tunnels answered, by allow entry (or denied), method (CONNECT for tunnels) and status code',
      labelNames: ['destination', 'method', 'code'] as const,
      registers,
    }),
    egressTunnels: new Gauge({
      name: 'gatehouse_egress_tunnels_active',
      help: 'Open egress CONNECT tunnels',
      registers,
    }),
    egressBytes: new FastCounter({
      name: 'gatehouse_egress_bytes_total',
      help: 'Bytes moved through egress by allow entry and direction (up = to the destination)',
      labelNames: ['destination', 'direction'] as const,
      registers,
    }),
    // Not exported to Prometheus: the status page's per-service last minute.
    recentRequests: new RequestWindow(),
  }
  // Both results exist from the start, so the first reload (or failure) is an increase
  // Prometheus sees (plugins/metrics/known-series.ts starts the per-service ones).
  for (const result of ['success', 'failure']) metrics.configReloads.inc({ result }, 0)
  return metrics
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>
