import type { FastifyBaseLogger } from 'fastify'
import type { Dispatcher } from 'undici'
import { CIRCUIT_TRANSITION_LABEL, type GatewayMetrics } from '../metrics/gateway-metrics.ts'
import type { CircuitState, ServiceRuntime, UpstreamState } from '../../lib/service-runtime.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import type { ResilienceServiceFields } from './schema.ts'

type ResilientService = ServiceRuntime<ServiceCore & ResilienceServiceFields>
import { BucketClock } from './bucket-clock.ts'
import { HealthChecker } from './health-check.ts'
import { UpstreamBreaker } from './upstream-breaker.ts'

export { selectUpstream, isAvailable } from './balancer.ts'
export { UpstreamBreaker } from './upstream-breaker.ts'
export { createCallPath, UpstreamAttempt, type CallPath, type UpstreamHooks, type UpstreamOutcome } from './upstream-call.ts'
export { HealthChecker } from './health-check.ts'

const CIRCUIT_GAUGE: Record<CircuitState, 0 | 1 | 2> = { closed: 0, 'half-open': 1, open: 2 }

export interface Resilience {
  // Gives every upstream of these services that has none yet its breaker and health
  // check (an upstream kept from an earlier generation keeps its own).
  attach: (services: readonly ResilientService[]) => void
  // Shuts down the breaker and health check of an upstream no service uses any more.
  release: (state: UpstreamState) => void
  // Stops every timer: breakers, health checks, the statistics clock.
  close: () => void
}

interface Managed {
  labels: { service: string; upstream: string }
}

export interface ResilienceOptions {
  metrics: GatewayMetrics
  logger: FastifyBaseLogger
  // The shared upstream pool, for health checks of upstreams without a TLS Agent of their own.
  agent: Dispatcher
}

// Not a Fastify plugin: breakers and health checks live as long as their upstream state,
// across generations, and gate every upstream call through the call path
// (upstream-call.ts: selection reads UpstreamState.up/circuit, the attempt runs through
// UpstreamState.breaker), which the HTTP dispatcher and the WebSocket handshake share.
export function createResilience (opts: ResilienceOptions): Resilience {
  const clock = new BucketClock()
  const managed = new Map<UpstreamState, Managed>()
  const { metrics, logger } = opts

  function attachUpstream (svc: ResilientService, state: UpstreamState) {
    const labels = { service: svc.name, upstream: state.origin }
    managed.set(state, { labels })
    const cfg = svc.config

    if (cfg.circuitBreaker !== false) {
      const breakerConfig = cfg.circuitBreaker
      state.circuit = 'closed'
      state.breaker = new UpstreamBreaker({
        config: breakerConfig,
        clock,
        name: `${svc.name} ${state.origin}`,
        onTransition (to) {
          state.circuit = to
          metrics.circuitState.set(labels, CIRCUIT_GAUGE[to])
          metrics.circuitTransitions.inc({ ...labels, to: CIRCUIT_TRANSITION_LABEL[to] })
          if (to === 'open') {
            logger.warn({ ...labels, circuit: to, resetTimeoutMs: breakerConfig.resetTimeoutMs }, 'circuit opened: upstream calls are refused')
          } else if (to === 'half-open') {
            logger.info({ ...labels, circuit: to }, 'circuit half-open: letting a probe through')
          } else {
            logger.info({ ...labels, circuit: to }, 'circuit closed: upstream recovered')
          }
        },
      })
      metrics.circuitState.set(labels, 0)
    }

    state.up = true
    metrics.upstreamUp.set(labels, 1)
    if (cfg.healthCheck !== null) {
      const health = new HealthChecker({
        agent: state.agent ?? opts.agent, // a service's own TLS Agent (upstreamTls) when it has one
        origin: state.origin,
        config: cfg.healthCheck,
        onChange (up, reason) {
          state.up = up
          metrics.upstreamUp.set(labels, up ? 1 : 0)
          if (up) logger.info({ ...labels, up }, 'upstream marked up: health check passes')
          else logger.warn({ ...labels, up, reason }, 'upstream marked down: health check fails')
        },
      })
      state.health = health
      health.start()
    }
  }

  function release (state: UpstreamState) {
    const m = managed.get(state)
    if (m === undefined) return
    managed.delete(state)
    state.breaker?.shutdown()
    state.health?.stop()
    // A changed breaker/health config gives the same service + origin a new state: its
    // series stay; a removed upstream's series go.
    for (const other of managed.values()) {
      if (other.labels.service === m.labels.service && other.labels.upstream === m.labels.upstream) return
    }
    metrics.circuitState.remove(m.labels)
    metrics.upstreamUp.remove(m.labels)
  }

  return {
    attach (services) {
      for (const svc of services) {
        for (const state of svc.upstreams) if (!managed.has(state)) attachUpstream(svc, state)
      }
    },
    release,
    close () {
      for (const state of [...managed.keys()]) release(state)
      clock.stop()
    },
  }
}
