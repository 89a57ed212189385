// Longer than our ~250-line rule: the Redis store's failure handling (per-call timeout,
// fail-fast while disconnected, the in-flight bound, the degraded gauge with its probe,
// onStoreError with its local fallback) is one piece; keeping it in one file keeps each
// rule next to the others.
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
// The degraded gauge (never a request's fate, see RedisRateLimitStore) returns to 0 only
// once no counting call has failed for this long; while it reads 1, one probe this often
// lets an idle gateway notice that Redis is back.
export const DEFAULT_PROBE_INTERVAL_MS = 250
// Calls sent and not yet answered (timed-out ones included: their replies are still owed).
// A Redis that hangs with its connection open answers none of them, and ioredis keeps each
// until the connection closes; past this bound a request fails over at once instead of
// adding to that pile. Far above what a healthy Redis ever has outstanding (requests in
// flight x round trip).
export const DEFAULT_MAX_IN_FLIGHT = 10_000

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
  maxInFlight?: number
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
  call.store.answered()
  if (call.settled) return // timed out already; the late reply decides nothing
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

// Shared counting through Redis. Every request's fate is decided by its own call, as
// Envoy's failure_mode_deny decides per failed call: answered within `redis.timeout`, its
// count is used; not answered in time (or an error reply), `onStoreError` applies to that
// request alone (`local` counts it in this process, `allow`/`deny` get
// StoreUnavailableError), and the next request asks Redis again. Only the current state of
// the connection fails a request without a call: not connected (no offline queue, so
// nothing would answer), or too many calls already unanswered (maxInFlight).
//
// `degraded` (the gauge, the status page, the loss/recovery log lines) reports, and
// decides nothing: it turns 1 at the first failed call or when the connection is lost, and
// back to 0 at the first call answered in time once none has failed for probeInterval
// (250 ms). That quiet period keeps a Redis that is slow now and then from flapping the
// gauge and the log on every slow reply; the probe makes an idle gateway notice recovery.
export class RedisRateLimitStore implements GatewayRateLimitStore {
  readonly kind = 'redis' as const
  readonly client: Redis
  degraded = false
  private readonly scripted: ScriptedRedis
  private readonly local: MemoryStore | null
  private readonly opts: RedisStoreOptions
  private lastError: Error | null = null
  private lastFailureMs = 0
  private inFlight = 0
  private probeTimer: NodeJS.Timeout | null = null
  private probing = false
  // `_` never occurs in a service name, so this key cannot be a client's counter.
  private readonly probeKey: string
  private closing = false
  private readonly timeoutMs: number
  private readonly quietMs: number
  private readonly maxInFlight: number
  private readonly timedOut: Error

  constructor (opts: RedisStoreOptions) {
    this.opts = opts
    this.probeKey = `${opts.config.redis.keyPrefix}_probe`
    this.timeoutMs = opts.config.redis.timeoutMs
    this.quietMs = opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
    this.timedOut = new Error(`no answer within ${this.timeoutMs} ms`)
    this.local = opts.config.onStoreError === 'local' ? new MemoryStore() : null
    // Each call is timed by the store (timerFired), not by ioredis' commandTimeout.
    this.client = new Redis(opts.config.redis.url, { ...redisClientOptions(opts), commandTimeout: undefined })
    this.client.defineCommand('gatehouseRateLimit', { numberOfKeys: 1, lua: INCR_SCRIPT })
    this.scripted = this.client as unknown as ScriptedRedis
    // Every failed reconnect emits `error`; remembered for the transition log only.
    this.client.on('error', (err: Error) => { this.lastError = err })
    this.client.on('close', () => { if (!this.closing) this.failed(this.lastError?.message ?? 'connection closed') })
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
    if (!this.connected()) this.failed(this.lastError?.message ?? 'not connected')
  }

  // Read through a method: the status changes under TypeScript's narrowing across awaits.
  connected (): boolean {
    return this.client.status === 'ready'
  }

  incr (key: string, cb: IncrCallback, timeWindow: number, max: number): void {
    if (this.client.status !== 'ready') {
      this.failed(`connection ${this.client.status}`)
      this.fallback(key, cb, timeWindow, max)
      return
    }
    if (this.inFlight >= this.maxInFlight) {
      this.failed(`${this.inFlight} calls unanswered`)
      this.fallback(key, cb, timeWindow, max)
      return
    }
    const call: Call = { store: this, key, cb, timeWindow, max, timer: null, settled: false }
    this.inFlight++
    this.scripted.gatehouseRateLimit(key, timeWindow, (err, res) => replied(call, err, res))
    // ioredis answers asynchronously, even a rejection: the call is never settled here.
    call.timer = setTimeout(timerFired, this.timeoutMs, call)
  }

  // Every call sent is answered once: a reply, an error, or the rejection ioredis gives
  // each pending call when the connection closes.
  answered () {
    this.inFlight--
  }

  // The outcome of one counting call: the reply, or the timeout, whichever came first.
  settle (call: Call, err: Error | null, res?: [number, number]) {
    if (err !== null || res === undefined) {
      this.failed(err?.message ?? 'empty reply')
      this.fallback(call.key, call.cb, call.timeWindow, call.max)
      return
    }
    if (this.degraded) this.succeeded()
    call.cb(null, { current: res[0], ttl: res[1] })
  }

  timeoutError (): Error {
    return this.timedOut
  }

  private fallback (key: string, cb: IncrCallback, timeWindow: number, max: number) {
    if (this.local !== null) this.local.incr(key, cb, timeWindow, max)
    else cb(UNAVAILABLE)
  }

  // A reason, not an Error: while the connection is down this runs for every request.
  private failed (reason: string) {
    if (this.closing) return
    this.lastFailureMs = performance.now()
    if (this.degraded) return
    this.degraded = true
    this.opts.metrics.rateLimitStoreDegraded.set(1)
    this.opts.logger.warn({ reason, onStoreError: this.opts.config.onStoreError },
      'rate-limit store degraded')
    this.startProbe()
  }

  private succeeded () {
    if (!this.degraded || this.closing) return
    if (performance.now() - this.lastFailureMs < this.quietMs) return
    this.degraded = false
    this.stopProbe()
    this.opts.metrics.rateLimitStoreDegraded.set(0)
    this.opts.logger.info('rate-limit store recovered')
  }

  // The probe is the real script, not just a socket (`ready`) or a PING: a Redis that
  // accepts connections but refuses writes (READONLY, OOM) is still failing every request.
  private startProbe () {
    if (this.probeTimer !== null) return
    this.probeTimer = setInterval(() => this.probe(), this.quietMs)
    this.probeTimer.unref()
  }

  private probe () {
    if (!this.degraded || this.probing || this.client.status !== 'ready') return
    this.probing = true
    this.incrDirect(this.probeKey, 1000, (err) => {
      this.probing = false
      if (err === null) this.succeeded()
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
