import fp from 'fastify-plugin'
import fastifyRateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RateLimitConfig, RateLimitServiceFields } from './schema.ts'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import { RateLimited, RateLimitUnavailable } from '../errors/errors.ts'
import { clientId } from './client-key.ts'
import { resetSeconds, setPolicyHeaders } from './headers.ts'
import { limitFor, resolveServiceLimits, type Limit, type ServiceLimits } from './policies.ts'
import { RedisRateLimitStore, StoreUnavailableError } from './redis-store.ts'
import { createMemoryStore, type GatewayRateLimitStore, type RateLimitStore } from './store.ts'

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

// @fastify/rate-limit instantiates its `store` option itself, once per registration, and
// asks it for a child per `fastify.rateLimit(options)` handler. Every one of them hands
// the count to the gateway-lifetime store. Our keys already name the service and the
// route (keyGenerator), so a child needs no namespace of its own.
function storeOnto (backing: RateLimitStore): FastifyRateLimitStoreCtor {
  return class GenerationStore {
    incr (key: string, cb: Parameters<RateLimitStore['incr']>[1], timeWindow: number, max: number) {
      backing.incr(key, cb, timeWindow, max)
    }

    child () {
      return this
    }
  }
}

type LimitCheck = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

// @fastify/rate-limit does the counting, the 429 and the X-RateLimit-* / Retry-After
// headers: registered per generation with no route of its own (global: false), its
// `fastify.rateLimit(options)` handler is made once per policy and called from our one
// onRequest hook, because the policy depends on the `routes[]` entry a request matches
// inside one proxy route. The hook runs after auth has set request.gw.consumer, before
// the body is read or an upstream is called. What the plugin does not do is ours: the
// IETF `RateLimit-Policy`/`RateLimit` pair, and `onStoreError: allow | deny`.
async function rateLimitPlugin (app: FastifyInstance, opts: RateLimitPluginOptions) {
  const { config: rl, store } = opts
  if (rl === null || store === null) return

  const table = new Map<ServiceRuntime, ServiceLimits>()
  for (const svc of opts.services) {
    const limits = resolveServiceLimits(svc.config, rl, opts.metrics)
    if (limits !== null) table.set(svc, limits)
  }
  if (table.size === 0) return

  await app.register(fastifyRateLimit, {
    global: false,
    store: storeOnto(store),
    // A failing store (Redis with onStoreError allow or deny; `local` never fails) is
    // passed on to count(). skipOnError would let the request through *with* headers
    // claiming a full budget.
    skipOnError: false,
    addHeadersOnExceeding: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true },
    addHeaders: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true, 'retry-after': true },
    // Our own error: the gateway's one error handler makes it problem+json GW_RATE_LIMITED.
    errorResponseBuilder: (_request, context) => new RateLimited(`Rate limit exceeded, retry in ${resetSeconds(context.ttl)} s`),
  })

  const checks = new Map<Limit, LimitCheck>()
  const checkFor = (limit: Limit | null) => {
    if (limit === null || checks.has(limit)) return
    checks.set(limit, app.rateLimit({
      max: limit.max,
      timeWindow: limit.windowMs,
      keyGenerator: (request) => limit.keyBase + clientId(request, limit.byIp),
      onExceeded: () => limit.rejected.inc(),
    }))
  }
  for (const limits of table.values()) {
    checkFor(limits.service)
    for (const rule of limits.rules ?? []) checkFor(rule.limit ?? null)
  }
  const allowOnStoreError = rl.onStoreError === 'allow'

  // Resolves to nothing (the request goes on) or rejects with the answer to send: the
  // hook hands either straight to `done`.
  async function count (request: FastifyRequest, reply: FastifyReply, limit: Limit): Promise<undefined> {
    try {
      await checks.get(limit)!.call(app, request, reply)
    } catch (err) {
      if (err instanceof StoreUnavailableError) {
        // No count: no limit headers either.
        if (allowOnStoreError) return undefined
        throw new RateLimitUnavailable('Rate limiting is temporarily unavailable')
      }
      if (err instanceof RateLimited) {
        setPolicyHeaders(reply, limit.headers)
        request.gw.rateLimitHeaders = true
      }
      throw err
    }
    setPolicyHeaders(reply, limit.headers)
    request.gw.rateLimitHeaders = true
    return undefined
  }

  app.addHook('onRequest', function rateLimit (request, reply, done) {
    const svc = request.gw.service
    const limits = svc === null ? undefined : table.get(svc)
    const limit = limits === undefined ? null : limitFor(limits, request.method, request.url)
    if (limit === null) {
      done()
      return
    }
    count(request, reply, limit).then(done, done)
  })
}

export default fp(rateLimitPlugin, { name: 'gatehouse-rate-limit', fastify: '5.x' })
