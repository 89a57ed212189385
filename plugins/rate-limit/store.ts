import { createRequire } from 'node:module'

// The store contract of @fastify/rate-limit: `incr` counts one hit on `key` in a fixed
// window of `timeWindow` ms and reports the count so far and the ms left in the window;
// `child` gives a store for one route. Any store written for that plugin fits here.
export interface IncrResult {
  current: number
  ttl: number
}

export type IncrCallback = (err: Error | null, result?: IncrResult) => void

export interface RateLimitStore {
  incr: (key: string, cb: IncrCallback, timeWindow: number, max: number) => void
  child: (routeOptions: RouteInfoLike) => RateLimitStore
}

export interface RouteInfoLike {
  routeInfo?: { method?: string | string[]; url?: string }
}

// The gateway-lifetime store (GatewayContext.rateLimitStore): lives across config
// generations so counters of unchanged services survive a reload.
export interface GatewayRateLimitStore extends RateLimitStore {
  readonly kind: 'memory' | 'redis'
  close: () => Promise<void>
}

// Keys one instance may hold in memory. An LRU bounds memory when clients rotate keys;
// an evicted key only restarts its window.
export const DEFAULT_MEMORY_KEYS = 100_000

type LocalStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => RateLimitStore

// @fastify/rate-limit's own in-process fixed-window store (an LRU of counters). Its
// package has no `exports` map and no types for the file, hence require + our contract type.
const LocalStore = createRequire(import.meta.url)('@fastify/rate-limit/store/LocalStore.js') as LocalStoreCtor

export function createMemoryCounter (maxKeys: number = DEFAULT_MEMORY_KEYS): RateLimitStore {
  return new LocalStore(false, false, maxKeys)
}

export function createMemoryStore (maxKeys: number = DEFAULT_MEMORY_KEYS): GatewayRateLimitStore {
  const counter = createMemoryCounter(maxKeys)
  return {
    kind: 'memory',
    incr: (key, cb, timeWindow, max) => counter.incr(key, cb, timeWindow, max),
    child: (routeOptions) => namespaced(counter, routeNamespace(routeOptions)),
    close: async () => {},
  }
}

// What @fastify/rate-limit's stores do in `child`: a per-route key namespace. The gateway
// itself puts service and route into the key and never calls it.
export function routeNamespace (routeOptions: RouteInfoLike): string {
  const info = routeOptions.routeInfo ?? {}
  return `${String(info.method ?? '')}${info.url ?? ''}-`
}

export function namespaced (store: RateLimitStore, prefix: string): RateLimitStore {
  return {
    incr: (key, cb, timeWindow, max) => store.incr(prefix + key, cb, timeWindow, max),
    child: (routeOptions) => namespaced(store, prefix + routeNamespace(routeOptions)),
  }
}
