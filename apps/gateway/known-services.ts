import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import type { RateLimitConfig, ServiceConfig } from './config/types.ts'
import type { GatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'
import type { KnownService } from '../../plugins/metrics/known-series.ts'
import { compilePolicy } from '../../plugins/auth/policy.ts'
import { resolveServiceLimits } from '../../plugins/rate-limit/policies.ts'

// What each service of a generation can count, decided the way its plugins decide it:
// auth checks tokens when its policy compiles to something, the rate limiter counts when
// a limit resolves for the service or one of its routes.
export function knownServices (services: ReadonlyArray<ServiceRuntime<ServiceConfig>>, rateLimit: RateLimitConfig | null,
  metrics: GatewayMetrics): KnownService[] {
  return services.map((svc) => ({
    name: svc.name,
    upstreams: svc.config.upstreams,
    breaker: svc.config.circuitBreaker !== false,
    rateLimit: rateLimit !== null && resolveServiceLimits(svc.config, rateLimit, metrics) !== null,
    auth: compilePolicy(svc.config) !== null,
  }))
}
