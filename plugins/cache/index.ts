// Longer than our ~250-line rule: lookup, single-flight and store are one protocol around
// one key per request (preHandler and onSend must agree on it); the parts that stand alone
// (capture, entry, freshness, conditional, stores) are their own files.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { pipeline, type Readable } from 'node:stream'
import type { CacheStores } from './stores.ts'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import type { CacheConfig } from './schema.ts'
import { CaptureStream } from './capture.ts'
import { requestHeaderValue, storedHeaders, varyMatches, type CacheEntry } from './entry.ts'
import { initialAge, storableTtlMs } from './freshness.ts'
import type { CacheStore, Flight } from './store.ts'
import { NOT_MODIFIED_HEADERS, notModified } from './conditional.ts'

export { createCacheStores, DEFAULT_MAX_STORE_BYTES, type CacheStores } from './stores.ts'
export type { CacheEntry } from './entry.ts'

// Largest body kept: bigger responses stream to the client and are not stored.
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

export interface CachePluginOptions {
  // Gateway-lifetime stores: entries of unchanged services survive reloads.
  stores: CacheStores
  requests: GatewayMetrics['cacheRequests']
  services: ReadonlyArray<ServiceRuntime<ServiceCore & { cache: CacheConfig | null }>>
  maxBodyBytes?: number
}

interface Counter { inc: () => void }

// One cached service, compiled once per generation around its gateway-lifetime store.
interface ServiceCache {
  store: CacheStore
  flights: Map<string, Flight>
  ttlMs: number
  vary: string[]
  perConsumer: boolean
  // How long a request waits for another's in-flight miss before going upstream itself:
  // the service's upstream budget, so a waiter never waits longer than its own call could.
  waitMs: number
  hit: Counter
  miss: Counter
  bypass: Counter
}

// A GET that missed and may store what the upstream answers. `flight` is set while this
// request leads a coalesced miss.
interface PendingMiss {
  sc: ServiceCache
  key: string
  flight: Flight | null
}

// 'pass': looked at by the cache, answered upstream, never stored (bypass, HEAD miss).
type CacheState = PendingMiss | 'pass' | null

declare module 'fastify' {
  interface FastifyRequest {
    gwCache: CacheState
  }
}

// Response caching per service (SPEC "Edge options": `cache`).
//
// Lookup is a preHandler hook: it runs after every onRequest policy (ip access, auth, rate
// limits), so a hit is still checked and counted, and right before the proxy handler.
// GET and HEAD only; the key is the normalised path and query, the values of the
// service's `cache.vary` request headers, and the consumer with `perConsumer: true`.
// A request that carries credentials (Authorization, or a consumer set by auth) bypasses
// the shared cache, unless the service keys by consumer. Range requests bypass it too.
//
// Storing happens in the first onSend hook, before CORS and compression change the
// response: a 200 to a GET whose Cache-Control allows a shared cache (no no-store,
// private, no-cache; s-maxage, then max-age, then Expires bound the TTL, never above
// `cache.ttl`), without Set-Cookie or `Vary: *`, and at most DEFAULT_MAX_BODY_BYTES, is
// copied while it streams to the client and stored when complete.
//
// Concurrent misses for one key make one upstream call: the first request leads, the
// others wait (at most the upstream budget) and are answered from its response; when that
// response cannot be stored or never completes, each goes upstream itself.
async function cachePlugin (app: FastifyInstance, opts: CachePluginOptions) {
  const { stores } = opts
  stores.retainOnly(opts.services.map((s) => s.config))
  const table = new Map<ServiceRuntime, ServiceCache>()
  for (const svc of opts.services) {
    const cache = svc.config.cache
    if (cache === null) continue
    const { store, flights } = stores.forService(svc.config)
    const counter = opts.requests
    table.set(svc, {
      store,
      flights,
      ttlMs: cache.ttlMs,
      vary: cache.vary,
      perConsumer: cache.perConsumer,
      waitMs: svc.timeoutMs,
      hit: counter.labels(svc.name, 'hit'),
      miss: counter.labels(svc.name, 'miss'),
      bypass: counter.labels(svc.name, 'bypass'),
    })
  }
  // No service caches: no hooks, no per-request cost.
  if (table.size === 0) return
  await stores.redisReady()
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES

  app.decorateRequest('gwCache', null)

  app.addHook('preHandler', function cacheLookup (request, reply, done) {
    const svc = request.gw.service
    const sc = svc === null ? undefined : table.get(svc)
    if (sc === undefined) return done()
    const method = request.method
    if (method !== 'GET' && method !== 'HEAD') return done()
    const headers = request.headers
    const consumer = request.gw.consumer
    const credentials = headers.authorization !== undefined || consumer !== null
    if (headers.range !== undefined || (credentials && !(sc.perConsumer && consumer !== null))) {
      sc.bypass.inc()
      request.gwCache = 'pass'
      return done()
    }
    const key = cacheKey(sc, request, consumer)
    sc.store.get(key, function onLookup (entry) {
      if (entry !== null && varyMatches(entry, headers)) {
        sc.hit.inc()
        serveHit(request, reply, entry)
        return
      }
      // A HEAD response has no body to store: it neither leads nor waits.
      if (method === 'HEAD') {
        sc.miss.inc()
        request.gwCache = 'pass'
        return done()
      }
      const flight = sc.flights.get(key)
      if (flight !== undefined) {
        waitFor(flight, sc, key, request, reply, done)
        return
      }
      const state: PendingMiss = { sc, key, flight: { waiters: [] } }
      sc.flights.set(key, state.flight!)
      sc.miss.inc()
      request.gwCache = state
      // Covers every way the leader can end without a stored response, the client leaving
      // before the upstream answered included (no onSend runs then).
      reply.raw.once('close', () => release(state, null))
      done()
    })
  })

  app.addHook('onSend', function cacheStore (request, reply, payload, done) {
    const state = request.gwCache
    if (state === null) return done(null, payload)
    reply.header('x-cache', 'MISS')
    if (state === 'pass') return done(null, payload)
    // Only the proxy's 200s are stored: streamed, or a small answer collected whole (a
    // Buffer, upstream-dispatcher.ts). What the gateway answered itself is a string.
    const whole = Buffer.isBuffer(payload)
    if (reply.statusCode !== 200 || payload === null || (!whole && typeof (payload as Readable).pipe !== 'function')) {
      release(state, null)
      return done(null, payload)
    }
    const headers = reply.getHeaders()
    const now = Date.now()
    const ttlMs = headers['set-cookie'] === undefined ? storableTtlMs(headers, state.sc.ttlMs, now) : 0
    const vary = ttlMs > 0 ? responseVary(headers.vary, state.sc.vary) : null
    if (vary === null || Number(headers['content-length']) > maxBody) {
      release(state, null)
      return done(null, payload)
    }
    const varyValues = vary.map((name) => requestHeaderValue(request.headers[name]))
    const kept = storedHeaders(headers)
    const age = initialAge(headers)
    if (whole) {
      const entry: CacheEntry = { headers: kept, body: payload, storedAt: now, expiresAt: now + ttlMs, initialAge: age, vary, varyValues }
      state.sc.store.set(state.key, entry, ttlMs)
      release(state, entry)
      return done(null, payload)
    }
    const tee = new CaptureStream(maxBody, (body) => {
      if (body === null) return release(state, null)
      const entry: CacheEntry = { headers: kept, body, storedAt: now, expiresAt: now + ttlMs, initialAge: age, vary, varyValues }
      state.sc.store.set(state.key, entry, ttlMs)
      release(state, entry)
    })
    pipeline(payload as Readable, tee, (err) => { if (err) release(state, null) })
    done(null, tee)
  })
}

function cacheKey (sc: ServiceCache, request: FastifyRequest, consumer: string | null): string {
  // Stores are per service, so the service is not part of the key.
  let key = request.url
  for (let i = 0; i < sc.vary.length; i++) key += '\u0000' + requestHeaderValue(request.headers[sc.vary[i]!])
  if (sc.perConsumer) key += '\u0000' + (consumer ?? '')
  return key
}

function serveHit (request: FastifyRequest, reply: FastifyReply, entry: CacheEntry) {
  const unchanged = notModified(request.headers, entry.headers)
  if (unchanged) {
    for (const name of NOT_MODIFIED_HEADERS) {
      const value = entry.headers[name]
      if (value !== undefined) reply.header(name, value)
    }
  } else {
    reply.headers(entry.headers)
  }
  reply.header('age', String(entry.initialAge + Math.floor((Date.now() - entry.storedAt) / 1000)))
  reply.header('x-cache', 'HIT')
  reply.header('x-request-id', String(request.id))
  if (unchanged) reply.code(304).send()
  else reply.code(200).send(entry.body)
}

// A follower: answered from the leader's response when it is stored (and its Vary matches
// this request), else sent upstream, as it is after waitMs whatever the leader does.
function waitFor (flight: Flight, sc: ServiceCache, key: string, request: FastifyRequest,
  reply: FastifyReply, done: HookHandlerDoneFunction) {
  const wake = (entry: CacheEntry | null) => {
    // The client left while waiting: nothing to answer, and no upstream call to make.
    if (reply.raw.destroyed) {
      reply.hijack()
      return
    }
    if (entry !== null && varyMatches(entry, request.headers)) {
      sc.hit.inc()
      serveHit(request, reply, entry)
      return
    }
    sc.miss.inc()
    request.gwCache = { sc, key, flight: null }
    done()
  }
  const waiter = (entry: CacheEntry | null) => {
    clearTimeout(timer)
    wake(entry)
  }
  const timer = setTimeout(() => {
    const i = flight.waiters.indexOf(waiter)
    if (i !== -1) flight.waiters.splice(i, 1)
    wake(null)
  }, sc.waitMs)
  timer.unref()
  flight.waiters.push(waiter)
}

// Ends a leader's flight once: its waiters get the stored entry, or null to go upstream.
function release (state: PendingMiss, entry: CacheEntry | null) {
  const flight = state.flight
  if (flight === null) return
  state.flight = null
  if (state.sc.flights.get(state.key) === flight) state.sc.flights.delete(state.key)
  const waiters = flight.waiters
  for (let i = 0; i < waiters.length; i++) waiters[i]!(entry)
}

// The request headers the response varies on beyond those already in the key; null for
// `Vary: *` (never stored).
function responseVary (value: unknown, keyed: string[]): string[] | null {
  if (value === undefined) return []
  const out: string[] = []
  for (const part of (Array.isArray(value) ? value.join(',') : String(value)).split(',')) {
    const name = part.trim().toLowerCase()
    if (name === '') continue
    if (name === '*') return null
    if (!keyed.includes(name) && !out.includes(name)) out.push(name)
  }
  return out
}

export default fp(cachePlugin, { name: 'gatehouse-cache', fastify: '5.x', dependencies: ['gatehouse-request-context'] })
