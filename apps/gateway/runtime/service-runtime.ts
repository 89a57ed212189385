import type { GatewayConfig, ServiceConfig } from '../config/types.ts'

// Live state of one upstream origin of one service. It outlives config generations:
// a reload that leaves the service's upstream unchanged hands the same object to the
// new generation, so its counters (and later its breaker and health) carry over.
export interface UpstreamState {
  origin: string
  host: string
  inflight: number
  up: boolean
  circuit: 'closed' | 'half-open' | 'open'
}

// What the request path needs to know about a service, built once per generation.
export interface ServiceRuntime {
  name: string
  config: ServiceConfig
  upstreams: UpstreamState[]
  // Upstream call budget: the smaller of the gateway ceiling and the breaker timeout.
  timeoutMs: number
  nextIndex: number
}

export function createUpstreamState (origin: string): UpstreamState {
  return { origin, host: new URL(origin).host, inflight: 0, up: true, circuit: 'closed' }
}

export function createServiceRuntime (service: ServiceConfig, config: GatewayConfig,
  upstreamState: (service: ServiceConfig, origin: string) => UpstreamState): ServiceRuntime {
  const breakerTimeout = service.circuitBreaker ? service.circuitBreaker.timeoutMs : Infinity
  return {
    name: service.name,
    config: service,
    upstreams: service.upstreams.map((origin) => upstreamState(service, origin)),
    timeoutMs: Math.min(config.server.timeouts.upstreamMs, breakerTimeout),
    nextIndex: 0,
  }
}

// Round-robin over the upstreams that are up, skipping the ones already tried.
export function pickUpstream (svc: ServiceRuntime, tried?: UpstreamState[]): UpstreamState | null {
  const list = svc.upstreams
  for (let n = 0; n < list.length; n++) {
    const candidate = list[svc.nextIndex++ % list.length]!
    if (candidate.up && (tried === undefined || !tried.includes(candidate))) return candidate
  }
  return null
}
