import type { RouteCore } from '../../lib/config-types.ts'

// The rate-limit plugin's configuration in resolved form: the gateway-wide `rateLimit`
// section (store, Redis, onStoreError, default policy) and each service's and route's
// own `rateLimit`.

export type RateLimitBy = 'consumer' | 'ip'

export interface RateLimitPolicy {
  max: number
  windowMs: number
  by: RateLimitBy
}

export interface RateLimitConfig {
  store: 'memory' | 'redis'
  redis: { url: string, keyPrefix: string, timeoutMs: number }
  onStoreError: 'local' | 'deny' | 'allow'
  default: RateLimitPolicy | null
}

export interface RateLimitRouteFields {
  rateLimit?: RateLimitPolicy | false
}

export interface RateLimitServiceFields {
  rateLimit: RateLimitPolicy | false | null // null = use rateLimit.default (if any)
  routes: Array<RouteCore & RateLimitRouteFields>
}
