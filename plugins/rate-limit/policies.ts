import type { RateLimitConfig, RateLimitPolicy, RateLimitServiceFields } from './schema.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import { policyHeaders, type PolicyHeaders } from './headers.ts'
import { canonicalPath, compileRouteMatcher, routeMatches, type RouteMatcher } from '../../lib/route-match.ts'

// One counter definition: what the hook needs per request, all precomputed.
export interface Limit {
  service: string
  max: number
  windowMs: number
  byIp: boolean
  // `<keyPrefix><service>:` for the service's counter, `<keyPrefix><service>#<route index>:`
  // for a route's own (`#` never occurs in a service name, so the two never meet).
  keyBase: string
  headers: PolicyHeaders
  rejected: { inc: () => void }
}

interface RouteRule {
  route: RouteMatcher
  // undefined: the route does not set `rateLimit`, the service's policy applies.
  limit: Limit | null | undefined
}

export interface ServiceLimits {
  service: Limit | null
  // null when no route sets `rateLimit`: the route table cannot change the answer.
  rules: RouteRule[] | null
}

export function serviceKeyBase (keyPrefix: string, service: string, routeIndex?: number): string {
  return routeIndex === undefined ? `${keyPrefix}${service}:` : `${keyPrefix}${service}#${routeIndex}:`
}

function toLimit (policy: RateLimitPolicy, service: string, rl: RateLimitConfig, metrics: GatewayMetrics,
  routeIndex?: number): Limit {
  return {
    service,
    max: policy.max,
    windowMs: policy.windowMs,
    byIp: policy.by === 'ip',
    keyBase: serviceKeyBase(rl.redis.keyPrefix, service, routeIndex),
    headers: policyHeaders(service, policy.max, policy.windowMs),
    rejected: metrics.rateLimited.labels({ service }),
  }
}

// Policy precedence: route `rateLimit` (own counter) > service `rateLimit` (false = off)
// > `rateLimit.default`. Null when no request to this service can ever be limited.
export function resolveServiceLimits (svc: ServiceCore & RateLimitServiceFields, rl: RateLimitConfig, metrics: GatewayMetrics): ServiceLimits | null {
  const policy = svc.rateLimit === false ? null : (svc.rateLimit ?? rl.default)
  const service = policy === null ? null : toLimit(policy, svc.name, rl, metrics)
  // Routes after the last one that sets `rateLimit` answer like no match at all.
  let last = -1
  for (let i = 0; i < svc.routes.length; i++) if (svc.routes[i]!.rateLimit !== undefined) last = i
  let rules: RouteRule[] | null = null
  if (last !== -1) {
    rules = []
    for (let i = 0; i <= last; i++) {
      const r = svc.routes[i]!
      const limit = r.rateLimit === undefined ? undefined : r.rateLimit === false ? null : toLimit(r.rateLimit, svc.name, rl, metrics, i)
      rules.push({ route: compileRouteMatcher(r), limit })
    }
  }
  if (service === null && (rules === null || rules.every((rule) => !rule.limit))) return null
  return { service, rules }
}

export function limitFor (limits: ServiceLimits, method: string, url: string): Limit | null {
  const rules = limits.rules
  if (rules === null) return limits.service
  const path = canonicalPath(url)
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!
    if (routeMatches(rule.route, method, path)) return rule.limit === undefined ? limits.service : rule.limit
  }
  return limits.service
}
