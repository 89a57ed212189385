import { Type, type Static } from '@sinclair/typebox'
import type { RouteCore } from '../../lib/config-types.ts'
import {
  Duration, OneOf, PositiveInt, Strict, durationMs, joinPath, withDefaults, type Defaulted, type Report
} from '../../lib/config/kit.ts'

// The rate-limit plugin's configuration: the gateway-wide `rateLimit` section (store,
// Redis, onStoreError, default policy) and each service's and route's own `rateLimit`,
// as schema (defaults included), resolved types and resolvers.

export const RateLimitPolicySchema = Strict({
  max: PositiveInt,
  window: Duration(),
  by: Type.Optional(OneOf(['consumer', 'ip'], { default: 'consumer' })),
})

// A service's or route's `rateLimit`: a policy, or false for none.
export const RateLimitOrOffSchema = Type.Union([Type.Literal(false), RateLimitPolicySchema])

export const RateLimitSchema = Strict({
  store: Type.Optional(OneOf(['memory', 'redis'], { default: 'memory' })),
  redis: Type.Optional(Strict({
    url: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a non-empty string', default: 'redis://127.0.0.1:6379' })),
    keyPrefix: Type.Optional(Type.String({ default: 'gatehouse:rl:' })),
    timeout: Type.Optional(Duration({ default: '50ms' })),
  }, { default: {} })),
  onStoreError: Type.Optional(OneOf(['local', 'deny', 'allow'], { default: 'local' })),
  default: Type.Optional(RateLimitPolicySchema),
})

export type RawRateLimitPolicy = Static<typeof RateLimitPolicySchema>
export type RawRateLimit = Static<typeof RateLimitSchema>

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

export function resolveRateLimitPolicy (input: RawRateLimitPolicy, path: string, report: Report): RateLimitPolicy {
  const raw = withDefaults(RateLimitPolicySchema, input) as Defaulted<RawRateLimitPolicy, 'by'>
  return { max: raw.max, windowMs: durationMs(raw.window, joinPath(path, 'window'), report, true), by: raw.by }
}

export function resolveRateLimitOrOff (input: RawRateLimitPolicy | false, path: string, report: Report): RateLimitPolicy | false {
  return input === false ? false : resolveRateLimitPolicy(input, path, report)
}

type RawRedis = NonNullable<RawRateLimit['redis']>

export function resolveRateLimit (input: RawRateLimit, path: string, report: Report): RateLimitConfig {
  const raw = withDefaults(RateLimitSchema, input) as Defaulted<RawRateLimit, 'store' | 'redis' | 'onStoreError'>
  const redis = raw.redis as Defaulted<RawRedis, 'url' | 'keyPrefix' | 'timeout'>
  const redisPath = joinPath(path, 'redis')
  if (!/^rediss?:\/\//.test(redis.url)) report(joinPath(redisPath, 'url'), 'must be a redis:// or rediss:// URL')
  return {
    store: raw.store,
    redis: { url: redis.url, keyPrefix: redis.keyPrefix, timeoutMs: durationMs(redis.timeout, joinPath(redisPath, 'timeout'), report, true) },
    onStoreError: raw.onStoreError,
    default: raw.default === undefined ? null : resolveRateLimitPolicy(raw.default, joinPath(path, 'default'), report),
  }
}

// The section as it is with every default: a service's own limit without a rateLimit
// section is counted this way (in memory), and the cache's Redis settings default to it.
export function defaultRateLimit (): RateLimitConfig {
  return resolveRateLimit({}, 'rateLimit', () => {})
}
