import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { RateLimitConfig, RateLimitServiceFields } from './schema.ts'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import { RateLimited, RateLimitUnavailable, withHeaders } from '../errors/errors.ts'
import { clientId } from './client-key.ts'
import { resetSeconds, setRateLimitHeaders } from './headers.ts'
import { limitFor, resolveServiceLimits, type Limit, type ServiceLimits } from './policies.ts'
import { RedisRateLimitStore } from './redis-store.ts'
import { createMemoryStore, type GatewayRateLimitStore, type IncrResult } from './store.ts'

export type { GatewayRateLimitStore, RateLimitStore } from './store.ts'
export { ipBudgetKey } from './client-key.ts'

export interface RateLimitPluginOptions {
  // null (no rateLimit section, none implied): no hook at all.
  config: RateLimitConfig | null
  // Outlives generations: counters of unchanged services survive reloads.
  store: GatewayRateLimitStore | null
  metrics: GatewayMetrics
  services: ReadonlyArray<ServiceRuntime<ServiceCore & RateLimitServiceFields>>
}

// The store outlives generations: counters of unchanged services survive reloads, and
// with Redis every instance shares them.
export async function createRateLimitStore (config: RateLimitConfig,
  deps: { logger: FastifyBaseLogger; metrics: GatewayMetrics }): Promise<GatewayRateLimitStore> {
  if (config.store === 'memory') return createMemoryStore()
  const store = new RedisRateLimitStore({ config, logger: deps.logger, metrics: deps.metrics })
  await store.started()
  return store
}

// Counts every request to a limited service or route in onRequest (after auth has set
// request.gw.consumer, before the body is read or an upstream is called), answers 429
// past the budget, and puts the limit headers on every response of a limited route.
// We run our own hook on @fastify/rate-limit's store contract instead of its hook: the
// policy depends on the `routes[]` entry a request matches inside one proxy route, the
// IETF `RateLimit-Policy`/`RateLimit` pair needs the remaining count on every response,
// and a store failure must follow `onStoreError` rather than fail or skip.
async function rateLimitPlugin (app: FastifyInstance, opts: RateLimitPluginOptions) {
  const { config: rl, store } = opts
  if (rl === null || store === null) return

  const table = new Map<ServiceRuntime, ServiceLimits>()
  for (const svc of opts.services) {
    const limits = resolveServiceLimits(svc.config, rl, opts.metrics)
    if (limits !== null) table.set(svc, limits)
  }
  if (table.size === 0) return
  const allowOnStoreError = rl.onStoreError === 'allow'

  function count (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, limit: Limit) {
    store!.incr(limit.keyBase + clientId(request, limit.byIp), (err: Error | null, res?: IncrResult) => {
      if (err !== null || res === undefined) {
        // Only `allow` and `deny` get here (`local` counts in process instead).
        if (allowOnStoreError) done()
        else done(new RateLimitUnavailable('Rate limiting is temporarily unavailable'))
        return
      }
      const remaining = limit.max - res.current
      const reset = resetSeconds(res.ttl)
      setRateLimitHeaders(reply, limit.headers, remaining > 0 ? remaining : 0, reset)
      request.gw.rateLimitHeaders = true
      if (remaining >= 0) {
        done()
        return
      }
      limit.rejected.inc()
      done(withHeaders(new RateLimited(`Rate limit exceeded, retry in ${reset} s`), { 'retry-after': String(reset) }))
    }, limit.windowMs, limit.max)
  }

  app.addHook('onRequest', function rateLimit (request, reply, done) {
    const svc = request.gw.service
    const limits = svc === null ? undefined : table.get(svc)
    if (limits === undefined) {
      done()
      return
    }
    const limit = limitFor(limits, request.method, request.url)
    if (limit === null) {
      done()
      return
    }
    count(request, reply, done, limit)
  })
}

export default fp(rateLimitPlugin, { name: 'gatehouse-rate-limit', fastify: '5.x' })
