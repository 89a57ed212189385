import type { FastifyBaseLogger } from 'fastify'
import type { Agent } from 'undici'
import type { GatewayConfig, ServiceConfig } from './config/types.ts'
import type { UpstreamState } from '../../lib/service-runtime.ts'
import type { UpstreamHooks } from '../../plugins/proxy/index.ts'
import type { GatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'
import type { GatewayRateLimitStore } from '../../plugins/rate-limit/store.ts'
import type { KeySource } from '../../plugins/auth/key-source.ts'
import type { CacheStores } from '../../plugins/cache/stores.ts'
import type { Tunnels } from '../../plugins/websocket/index.ts'
import type { Tracing } from '../../plugins/tracing/index.ts'
import { upstreamTlsKey } from './tls/upstream-agents.ts'

// Everything that lives as long as the gateway process, across config generations.
// Plugins reach long-lived state through this object instead of module globals, so two
// gateways in one process (tests) never share anything.
export interface GatewayContext {
  config: GatewayConfig
  logger: FastifyBaseLogger
  agent: Agent
  // Keyed by upstreamKey(): unchanged service + origin keeps its state across reloads.
  upstreams: Map<string, UpstreamState>
  upstreamHooks: UpstreamHooks[]
  metrics: GatewayMetrics
  isTrustedPeer: (address: string | undefined) => boolean
  state: { listening: boolean; draining: boolean }
  // Rate-limit counters (memory or Redis): outlive generations; null = no `rateLimit` section.
  rateLimitStore: GatewayRateLimitStore | null
  // JWT verification keys (the JWKS cache too), kept across reloads; null without auth.jwt.
  auth: KeySource | null
  // Response-cache stores per cached service (plugins/cache): entries of unchanged services
  // survive reloads; the Redis connection is made on first use.
  cacheStores: CacheStores
  // Open WebSocket tunnels (plugins/websocket): they outlive the generation that opened
  // them; shutdown tells them to close, then cuts what is left.
  websockets: Tunnels
  // The span exporter and its bounded queue (plugins/tracing); null without `tracing`.
  tracing: Tracing | null
}

export function upstreamKey (service: ServiceConfig, origin: string): string {
  return `${service.name}\u0000${origin}\u0000${JSON.stringify(service.circuitBreaker)}\u0000${JSON.stringify(service.healthCheck)}` +
    // A state holds the TLS Agent of a service with `upstreamTls` (apps/gateway/tls).
    `\u0000${upstreamTlsKey(service.upstreamTls)}`
}
