// Longer than our ~250-line rule: the Redis store's failure handling (timeout bound, probe,
// degraded gauge, onStoreError with its local fallback) is one state machine; keeping it in
// one file keeps each transition next to the others.
import { Redis, type RedisOptions } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { RateLimitConfig } from './schema.ts'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import { MemoryStore, type GatewayRateLimitStore, type IncrCallback } from './store.ts'

// Connection establishment happens in the background; it never holds a request.
export const DEFAULT_CONNECT_TIMEOUT_MS = 500
// Reconnect backoff: 50 ms doubling up to 1 s, forever (ops expect the gateway to pick
// Redis up again without a restart).
export const DEFAULT_RECONNECT_BASE_MS = 50
export const DEFAULT_RECONNECT_MAX_MS = 1000
// While degraded, one probe (the counting script on a key no service can have) this often
// decides when to go back; requests meanwhile never wait on Redis.
export const DEFAULT_PROBE_INTERVAL_MS = 250

// Fixed window in one round trip: INCR, then PEXPIRE only when the key has no expiry yet
// (PEXPIRE NX semantics, written out so it also runs on Redis < 7). Unlike a script that
// trusts PTTL, a key somehow left without a TTL gets one instead of blocking forever.
const INCR_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return { current, tonumber(ARGV[1]) }
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { current, ttl }
`

interface ScriptedRedis {
  gatehouseRateLimit: (key: string, windowMs: number, cb: (err: Error | null, res?: [number, number]) => void) => void
}

export interface RedisStoreOptions {
  config: RateLimitConfig
  logger: FastifyBaseLogger
  metrics: GatewayMetrics
  connectTimeoutMs?: number
  reconnectBaseMs?: number
  reconnectMaxMs?: number
  probeIntervalMs?: number
}

// Raised (one shared instance, no stack per request) when Redis cannot answer and
// onStoreError is `allow` or `deny`; @fastify/rate-limit passes it on (skipOnError off)
// and the plugin's hook turns it into a pass or a 503.
export class StoreUnavailableError extends Error {
  constructor () {
    super('rate-limit store unavailable')
    this.name = 'StoreUnavailableError'
  }
}
const UNAVAILABLE = new StoreUnavailableError()

export function redisClientOptions (opts: RedisStoreOptions): RedisOptions {
  const base = opts.reconnectBaseMs ?? DEFAULT_RECONNECT_BASE_MS
  const cap = opts.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS
  return {
    // A request must never wait in a queue for a connection that may not come back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    // For other users of these options (the cache); the rate-limit store replaces it by
    // its own lag-tolerant timing (see timerFired).
    commandTimeout: opts.config.redis.timeoutMs,
    retryStrategy: (times: number) => Math.min(base * 2 ** Math.min(times - 1, 16), cap),
    reconnectOnError: null,
    autoResubscribe: false,
    connectionName: 'gatehouse-rate-limit',
    // Calls made in the same tick leave in one write: fewer syscalls per request under
    // load (test/rate-limit/measure-step.ts: ~11 against ~14 µs CPU per call).
    enableAutoPipelining: true,
  }
}

// One counting call in flight. Module functions + setTimeout/setImmediate arguments
// instead of closures keep the per-request allocations to this object and one callback.
interface Call {
  store: RedisRateLimitStore
  key: string
  cb: IncrCallback
  timeWindow: number
  max: number
  timer: NodeJS.Timeout | null
  settled: boolean
}

function replied (call: Call, err: Error | null, res?: [number, number]) {
  if (call.settled) return // timed out already; the late reply changes nothing
  call.settled = true
  if (call.timer !== null) clearTimeout(call.timer)
  call.store.settle(call, err, res)
}

// Timers run before the event loop reads sockets: a reply already waiting in the socket
// would lose to the timer whenever the gateway itself is busy. Deferring the verdict by
// one setImmediate lets that poll phase deliver it first, so `redis.timeout` measures
// Redis, not our own event-loop lag (ioredis' commandTimeout does not: under load it
// declared a healthy local Redis degraded).
function timerFired (call: Call) {
  if (!call.settled) setImmediate(timedOut, call)
}

function timedOut (call: Call) {
  if (call.settled) return
  call.settled = true
  call.store.settle(call, call.store.timeoutError())
}

// Shared counting through Redis, degrading per `onStoreError` whenever Redis cannot
// answer within `redis.timeout`: `local` counts in this process meanwhile, `allow` and
// `deny` report StoreUnavailableError. The degraded state is one flag: the gauge and
// the log follow its transitions, never individual requests.
export class RedisRateLimitStore implements GatewayRateLimitStore {
  readonly kind = 'redis' as const
  readonly client: Redis
  degraded = false
  private readonly scripted: ScriptedRedis
  private readonly local: MemoryStore | null
  private readonly opts: RedisStoreOptions
  private lastError: Error | null = null
  private probeTimer: NodeJS.Timeout | null = null
  private probing = false
  // `_` never occurs in a service name, so this key cannot be a client's counter.
  private readonly probeKey: string
  private closing = false
  private readonly timeoutMs: number
  private readonly timedOut: Error

  constructor (opts: RedisStoreOptions) {
    this.opts = opts
    this.probeKey = `${opts.config.redis.keyPrefix}_probe`
    this.timeoutMs = opts.config.redis.timeoutMs
    this.timedOut = new Error(`no answer within ${this.timeoutMs} ms`)
    this.local = opts.config.onStoreError === 'local' ? new MemoryStore() : null
    // Each call is timed by the store (timerFired), not by ioredis' commandTimeout.
    this.client = new Redis(opts.config.redis.url, { ...redisClientOptions(opts), commandTimeout: undefined })
    this.client.defineCommand('gatehouseRateLimit', { numberOfKeys: 1, lua: INCR_SCRIPT })
    this.scripted = this.client as unknown as ScriptedRedis
    // Every failed reconnect emits `error`; remembered for the transition log only.
    this.client.on('error', (err: Error) => { this.lastError = err })
    this.client.on('close', () => { if (!this.closing) this.markDegraded(this.lastError ?? new Error('connection closed')) })
    this.client.on('ready', () => this.probe())
  }

  // Resolves once the first connection is ready or has failed (bounded by the connect
  // timeout), so a gateway started next to a healthy Redis never begins degraded, and one
  // started without Redis reports it at once.
  async started (): Promise<void> {
    if (this.client.status === 'ready') return
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer)
        this.client.off('ready', finish)
        this.client.off('error', finish)
        resolve()
      }
      const timer = setTimeout(finish, (this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) + 50)
      this.client.once('ready', finish)
      this.client.once('error', finish)
    })
    if (!this.connected()) this.markDegraded(this.lastError ?? new Error('not connected'))
  }

  // Read through a method: the status changes under TypeScript's narrowing across awaits.
  connected (): boolean {
    return this.client.status === 'ready'
  }

  incr (key: string, cb: IncrCallback, timeWindow: number, max: number): void {
    if (this.degraded || this.client.status !== 'ready') {
      if (!this.degraded) this.markDegraded(new Error(`connection ${this.client.status}`))
      this.fallback(key, cb, timeWindow, max)
      return
    }
    const call: Call = { store: this, key, cb, timeWindow, max, timer: null, settled: false }
    this.scripted.gatehouseRateLimit(key, timeWindow, (err, res) => replied(call, err, res))
    // ioredis answers asynchronously, even a rejection: the call is never settled here.
    call.timer = setTimeout(timerFired, this.timeoutMs, call)
  }

  // The outcome of one counting call: the reply, or the timeout, whichever came first.
  settle (call: Call, err: Error | null, res?: [number, number]) {
    if (err !== null || res === undefined) {
      this.markDegraded(err ?? new Error('empty reply'))
      this.fallback(call.key, call.cb, call.timeWindow, call.max)
      return
    }
    call.cb(null, { current: res[0], ttl: res[1] })
  }

  timeoutError (): Error {
    return this.timedOut
  }

  private fallback (key: string, cb: IncrCallback, timeWindow: number, max: number) {
    if (this.local !== null) this.local.incr(key, cb, timeWindow, max)
    else cb(UNAVAILABLE)
  }

  private markDegraded (err: Error) {
    if (this.degraded || this.closing) return
    this.degraded = true
    this.opts.metrics.rateLimitStoreDegraded.set(1)
    this.opts.logger.warn({ reason: err.message, onStoreError: this.opts.config.onStoreError },
      'rate-limit store degraded')
    this.startProbe()
  }

  private markRecovered () {
    if (!this.degraded || this.closing) return
    this.degraded = false
    this.stopProbe()
    this.opts.metrics.rateLimitStoreDegraded.set(0)
    this.opts.logger.info('rate-limit store recovered')
  }

  // Recovery needs the real script to answer, not just a socket (`ready`) or a PING: a
  // Redis that accepts connections but refuses writes (READONLY, OOM) would otherwise
  // flap between degraded and recovered on every request.
  private startProbe () {
    if (this.probeTimer !== null) return
    this.probeTimer = setInterval(() => this.probe(), this.opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS)
    this.probeTimer.unref()
  }

  private probe () {
    if (!this.degraded || this.probing || this.client.status !== 'ready') return
    this.probing = true
    this.incrDirect(this.probeKey, 1000, (err) => {
      this.probing = false
      if (err === null) this.markRecovered()
    })
  }

  // The counting call with its timeout but without fallback: what the probe needs.
  private incrDirect (key: string, timeWindow: number, cb: (err: Error | null) => void) {
    let settled = false
    const finish = (err: Error | null) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      cb(err)
    }
    const timer = setTimeout(() => setImmediate(finish, this.timedOut), this.timeoutMs)
    this.scripted.gatehouseRateLimit(key, timeWindow, (err) => finish(err))
  }

  private stopProbe () {
    if (this.probeTimer !== null) clearInterval(this.probeTimer)
    this.probeTimer = null
  }

  async close (): Promise<void> {
    this.closing = true
    this.stopProbe()
    this.client.disconnect()
  }
}
