import { ipBudgetKey, type RateLimitStore } from '../rate-limit/index.ts'
import { createMemoryStore } from '../rate-limit/store.ts'
import { StoreUnavailableError } from '../rate-limit/redis-store.ts'
import { resetSeconds } from '../rate-limit/headers.ts'
import { RateLimited, RateLimitUnavailable, withHeaders, type GatewayError } from '../errors/errors.ts'
import type { RateLimitPolicy } from '../rate-limit/schema.ts'

// `egress.rateLimit`: counted on the gateway's rate-limit store (memory or Redis, shared
// with the public port, under a key no service can have) and failing as its
// `onStoreError` says. Without a `rateLimit` section the count is kept in memory here.

export interface EgressLimiterOptions {
  store: () => RateLimitStore | null
  onStoreError: () => 'local' | 'deny' | 'allow'
}

export type EgressLimit = (policy: RateLimitPolicy, consumer: string | null, ip: string) => Promise<GatewayError | null>

export function createEgressLimiter (opts: EgressLimiterOptions): EgressLimit {
  let own: RateLimitStore | null = null
  return function limit (policy, consumer, ip) {
    const store = opts.store() ?? (own ??= createMemoryStore())
    const who = policy.by === 'consumer' && consumer !== null ? `c:${consumer}` : `ip:${ipBudgetKey(ip)}`
    return new Promise((resolve) => {
      store.incr(`egress\u0000${who}`, (err, result) => {
        if (err !== null || result === undefined) {
          if (err instanceof StoreUnavailableError && opts.onStoreError() === 'allow') return resolve(null)
          return resolve(new RateLimitUnavailable('Rate limiting is temporarily unavailable'))
        }
        if (result.current <= policy.max) return resolve(null)
        const retry = resetSeconds(result.ttl)
        resolve(withHeaders(new RateLimited(`Rate limit exceeded, retry in ${retry} s`), { 'Retry-After': String(retry) }))
      }, policy.windowMs, policy.max)
    })
  }
}
