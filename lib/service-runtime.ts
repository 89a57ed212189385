import type { ServiceCore } from './config-types.ts'
import type { Dispatcher } from 'undici'

export type CircuitState = 'closed' | 'half-open' | 'open'

// One upstream attempt as its breaker runs it: the breaker's action calls run(), which
// sends the attempt and settles once its outcome is known (rejected for a failure).
export interface BreakerAction<T> {
  run: () => Promise<T>
}

// What the request path asks of an upstream's breaker (plugins/breaker implements it);
// declared here so that the upstream state needs nothing from the plugin that drives it.
export interface UpstreamBreakerHandle {
  // May a call go to this upstream now: closed, or half-open with its probe not yet sent.
  admits: () => boolean
  // Runs the attempt as the breaker's action, which counts how it ends; null when the
  // breaker lets nothing through now (nothing is sent).
  fire: <T>(action: BreakerAction<T>) => Promise<T> | null
  // Whole seconds until an open breaker lets a probe through (at least 1).
  retryAfterSeconds: (now?: number) => number
  shutdown: () => void
}

export interface HealthCheckHandle {
  stop: () => void
}

// Live state of one upstream origin of one service. It outlives config generations:
// a reload that leaves the service's upstream unchanged hands the same object to the
// new generation, so its counters, breaker and health carry over.
export interface UpstreamState {
  origin: string
  host: string
  // Calls sent and not finished (until the response body closes): least-connections reads it.
  inflight: number
  // Health-check verdict; true when the service has no health check.
  up: boolean
  // Mirrors the breaker (plugins/breaker keeps it in step), so the hot path and the
  // admin view read a plain field.
  circuit: CircuitState
  // Set by plugins/breaker when a generation first uses this upstream; null when the
  // service has `circuitBreaker: false` (or before it is attached).
  breaker: UpstreamBreakerHandle | null
  health: HealthCheckHandle | null
  // The service's own TLS Agent (`upstreamTls`: CA, rejectUnauthorized), used for its
  // calls and health checks; null = the gateway's shared Agent. Closed with the state.
  agent: Dispatcher | null
}

// What the request path needs to know about a service, built once per generation. `C` is
// the service's configuration as far as its reader needs it: a plugin declares the keys
// it owns (ServiceRuntime<ServiceCore & { cors: CorsConfig | null }>), the app passes
// the whole composed config.
export interface ServiceRuntime<C extends ServiceCore = ServiceCore> {
  name: string
  readonly config: C
  upstreams: UpstreamState[]
  // Upstream call budget: the smaller of the gateway ceiling and the breaker timeout.
  timeoutMs: number
  leastConnections: boolean
  // Round-robin cursor (also breaks least-connections ties).
  nextIndex: number
}

export function createUpstreamState (origin: string): UpstreamState {
  return { origin, host: new URL(origin).host, inflight: 0, up: true, circuit: 'closed', breaker: null, health: null, agent: null }
}

export function createServiceRuntime<C extends ServiceCore> (service: C, budget: { timeoutMs: number, leastConnections: boolean },
  upstreamState: (service: C, origin: string) => UpstreamState): ServiceRuntime<C> {
  return {
    name: service.name,
    config: service,
    upstreams: service.upstreams.map((origin) => upstreamState(service, origin)),
    timeoutMs: budget.timeoutMs,
    leastConnections: budget.leastConnections,
    nextIndex: 0,
  }
}
