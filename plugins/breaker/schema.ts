import { Type, type Static } from '@sinclair/typebox'
import { Duration, OneOf, PositiveInteger, Strict, durationMs, joinPath, withDefaults, type Defaulted, type Report } from '../../lib/config/kit.ts'

// A service's resilience keys (SPEC "Configuration"): `circuitBreaker` (on by default),
// `healthCheck` (off unless set) and `loadBalancing`. Breakers, balancing and health
// checks are one concern: which upstream may take the next call.

const CircuitBreakerOptions = Strict({
  timeout: Type.Optional(Duration({ default: '10s' })),
  errorThresholdPercentage: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 50, errorMessage: 'must be a percentage (above 0, at most 100)' })),
  volumeThreshold: Type.Optional(PositiveInteger({ default: 10 })),
  resetTimeout: Type.Optional(Duration({ default: '10s' })),
})

// Absent = on with the defaults; `false` = no breaker.
export const CircuitBreakerSchema = Type.Union([Type.Literal(false), CircuitBreakerOptions], { default: {} })

export const HealthCheckSchema = Strict({
  path: Type.String({ pattern: '^/', errorMessage: 'must start with /' }),
  interval: Type.Optional(Duration({ default: '5s' })),
  unhealthyAfter: Type.Optional(PositiveInteger({ default: 2 })),
  healthyAfter: Type.Optional(PositiveInteger({ default: 1 })),
})

export const LoadBalancingSchema = OneOf(['round-robin', 'least-connections'], { default: 'round-robin' })

export type RawCircuitBreaker = Static<typeof CircuitBreakerSchema>
export type RawHealthCheck = Static<typeof HealthCheckSchema>
export type LoadBalancing = Static<typeof LoadBalancingSchema>

// The keys of a service this concern reads.
export interface ResilienceServiceFields {
  circuitBreaker: CircuitBreakerConfig | false
  healthCheck: HealthCheckConfig | null
  loadBalancing: LoadBalancing
}

export interface CircuitBreakerConfig {
  timeoutMs: number
  errorThresholdPercentage: number
  volumeThreshold: number
  resetTimeoutMs: number
}

export interface HealthCheckConfig {
  path: string
  intervalMs: number
  unhealthyAfter: number
  healthyAfter: number
}

export function resolveCircuitBreaker (input: RawCircuitBreaker | undefined, path: string, report: Report): CircuitBreakerConfig | false {
  if (input === false) return false
  const raw = withDefaults(CircuitBreakerOptions, input ?? {}) as Defaulted<Static<typeof CircuitBreakerOptions>, 'timeout' | 'errorThresholdPercentage' | 'volumeThreshold' | 'resetTimeout'>
  return {
    timeoutMs: durationMs(raw.timeout, joinPath(path, 'timeout'), report, true),
    errorThresholdPercentage: raw.errorThresholdPercentage,
    volumeThreshold: raw.volumeThreshold,
    resetTimeoutMs: durationMs(raw.resetTimeout, joinPath(path, 'resetTimeout'), report, true),
  }
}

export function resolveHealthCheck (input: RawHealthCheck, path: string, report: Report): HealthCheckConfig {
  const raw = withDefaults(HealthCheckSchema, input) as Defaulted<RawHealthCheck, 'interval' | 'unhealthyAfter' | 'healthyAfter'>
  return {
    path: raw.path,
    intervalMs: durationMs(raw.interval, joinPath(path, 'interval'), report, true),
    unhealthyAfter: raw.unhealthyAfter,
    healthyAfter: raw.healthyAfter,
  }
}
