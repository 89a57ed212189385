import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { RateLimitConfig } from '../rate-limit/schema.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import type { CacheConfig } from './schema.ts'

type CachedService = ServiceCore & { cache: CacheConfig | null }
import { DEFAULT_CONNECT_TIMEOUT_MS, redisClientOptions } from '../rate-limit/redis-store.ts'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import { MemoryCacheStore } from './memory-store.ts'
import { RedisCacheStore } from './redis-store.ts'
import type { CacheStore, Flight } from './store.ts'

// A memory store's byte bound per service (entries are at most DEFAULT_MAX_BODY_BYTES).
export const DEFAULT_MAX_STORE_BYTES = 64 * 1024 * 1024

// One service's cache as it outlives generations: its store and its in-flight misses.
export interface ServiceCacheStore {
  store: CacheStore
  flights: Map<string, Flight>
}

// Gateway-lifetime cache state. A generation asks for the
// store of each cached service; an unchanged service (same name, cache settings,
// upstreams and rewrite) gets the one it had, entries included, so a reload keeps the
// cache. Redis-backed stores share one connection, made on first use.
export interface CacheStores {
  forService: (service: CachedService) => ServiceCacheStore
  // Drops the stores of services no longer configured (their entries with them).
  retainOnly: (services: readonly CachedService[]) => void
  // Bounded wait for the Redis connection, so a new gateway does not start with misses.
  redisReady: () => Promise<void>
  close: () => Promise<void>
}

// Read when a store is made (the config in force then). No Redis key of its own: the
// cache uses rateLimit.redis (url, timeout, keyPrefix), or its defaults without a
// rateLimit section.
export interface CacheStoreDeps {
  rateLimit: RateLimitConfig
  logger: FastifyBaseLogger
  metrics: GatewayMetrics
}

// What must be unchanged for cached responses to stay valid across a reload.
function identity (s: CachedService): string {
  return `${s.name}\u0000${JSON.stringify([s.cache, s.upstreams, s.rewritePrefix, s.prefix])}`
}

export function createCacheStores (context: () => CacheStoreDeps,
  maxStoreBytes: number = DEFAULT_MAX_STORE_BYTES): CacheStores {
  const stores = new Map<string, ServiceCacheStore>()
  let redis: Redis | null = null
  let closing = false

  function redisClient (): Redis {
    if (redis !== null) return redis
    const deps = context()
    const rl = deps.rateLimit
    const client = new Redis(rl.redis.url, {
      ...redisClientOptions({ config: rl, logger: deps.logger, metrics: deps.metrics }),
      connectionName: 'gatehouse-cache',
    })
    let down = false
    client.on('error', (err: Error) => {
      if (down || closing) return
      down = true
      deps.logger.warn({ err: { message: err.message } }, 'cache store unavailable; serving as misses')
    })
    client.on('ready', () => {
      if (!down) return
      down = false
      deps.logger.info('cache store recovered')
    })
    redis = client
    return client
  }

  return {
    forService (service) {
      const id = identity(service)
      let found = stores.get(id)
      if (found !== undefined) return found
      const cache = service.cache!
      let store: CacheStore
      if (cache.store === 'redis') {
        const rl = context().rateLimit
        const digest = createHash('sha256').update(id).digest('base64url').slice(0, 16)
        store = new RedisCacheStore(redisClient(), `${rl.redis.keyPrefix}_cache:${service.name}:${digest}:`)
      } else {
        store = new MemoryCacheStore(cache.maxEntries, maxStoreBytes)
      }
      found = { store, flights: new Map() }
      stores.set(id, found)
      return found
    },
    retainOnly (services) {
      const keep = new Set(services.filter((s) => s.cache !== null).map(identity))
      for (const id of stores.keys()) if (!keep.has(id)) stores.delete(id)
    },
    async redisReady () {
      const client = redis
      if (client === null || client.status === 'ready') return
      await new Promise<void>((resolve) => {
        const finish = () => {
          clearTimeout(timer)
          client.off('ready', finish)
          client.off('error', finish)
          resolve()
        }
        const timer = setTimeout(finish, DEFAULT_CONNECT_TIMEOUT_MS + 50)
        client.once('ready', finish)
        client.once('error', finish)
      })
    },
    async close () {
      closing = true
      stores.clear()
      redis?.disconnect()
      redis = null
    },
  }
}
