import type { FastifyBaseLogger } from 'fastify'
import type { Agent } from 'undici'
import type { GatewayConfig, ServiceConfig } from './config/types.ts'
import type { UpstreamState } from './runtime/service-runtime.ts'
import type { UpstreamHooks } from '../../plugins/proxy/index.ts'
import type { GatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'

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
}

export function upstreamKey (service: ServiceConfig, origin: string): string {
  return `${service.name}\u0000${origin}\u0000${JSON.stringify(service.circuitBreaker)}\u0000${JSON.stringify(service.healthCheck)}`
}
