// Over ~250 lines: the registry's Redis protocol (Lua writes with one revision counter,
// the announcement, the re-read on every message or reconnect, and degraded state) is one
// consistency argument; split, its invariants would be spread over files.
import { EventEmitter } from 'node:events'
import { Redis, type RedisOptions } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import type { RegistryConfig } from './schema.ts'

// The cluster registry in Redis: the services written through the admin API of any
// instance, as the bodies that were PUT (each instance validates them itself), plus an
// announcement channel. Three keys under keyPrefix:
//   services  hash  name -> {"revision":N,"prefix":"/api/x","body":{...}}
//   prefixes  hash  prefix -> name (the cluster-wide prefix check, in the write script)
//   revision  counter, INCR'd by every write: Redis orders the writes, not the clocks of
//             the instances, so "the later write" is the one Redis ran later.
// Every write publishes its revision on `<keyPrefix>changes`; a subscriber re-reads the
// whole set (a few hundred services at most), so a lost or reordered message can never
// leave an instance on an older entry, and a reconnect is followed by the same re-read.
// Emits 'changed' when the stored set may differ from what this instance runs.

export const DEFAULT_CONNECT_TIMEOUT_MS = 500
// Admin writes are rare and small; a Redis that cannot answer within this is unavailable.
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000
const RECONNECT_BASE_MS = 50
const RECONNECT_MAX_MS = 1000
// While degraded with a connection up, a re-read this often decides when to go back.
const PROBE_INTERVAL_MS = 250

// KEYS: services, prefixes, revision. ARGV: name, prefix, body (JSON), channel.
// Returns {0, holder} on a prefix held by another name, {1, rev} created, {2, rev} replaced.
const PUT_SCRIPT = `
local holder = redis.call('HGET', KEYS[2], ARGV[2])
if holder and holder ~= ARGV[1] then return { 0, holder } end
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local oldPrefix = cjson.decode(old).prefix
  if oldPrefix ~= ARGV[2] then redis.call('HDEL', KEYS[2], oldPrefix) end
end
local rev = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], '{"revision":' .. rev .. ',"prefix":' .. cjson.encode(ARGV[2]) .. ',"body":' .. ARGV[3] .. '}')
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('PUBLISH', ARGV[4], rev)
if old then return { 2, rev } end
return { 1, rev }
`

// KEYS as above. ARGV: name, channel. Returns 0 when the name is not stored, else the revision.
const DELETE_SCRIPT = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local oldPrefix = cjson.decode(old).prefix
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], oldPrefix) == ARGV[1] then redis.call('HDEL', KEYS[2], oldPrefix) end
local rev = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[2], rev)
return rev
`

// The set and its revision in one atomic read.
const SNAPSHOT_SCRIPT = `
return { redis.call('GET', KEYS[3]) or '0', redis.call('HGETALL', KEYS[1]) }
`

interface ScriptedRedis {
  gatehouseRegistryPut: (services: string, prefixes: string, revision: string, name: string, prefix: string, body: string, channel: string) => Promise<[number, number | string]>
  gatehouseRegistryDelete: (services: string, prefixes: string, revision: string, name: string, channel: string) => Promise<number>
  gatehouseRegistrySnapshot: (services: string, prefixes: string, revision: string) => Promise<[string, string[]]>
}

export interface RegistryEntry {
  name: string
  revision: number
  body: Record<string, unknown>
}

export interface RegistrySnapshot {
  revision: number
  entries: RegistryEntry[] // sorted by name: every instance composes the same order
}

export type RegistryWrite =
  | { ok: true, created: boolean, revision: number }
  | { ok: false, reason: 'conflict', holder: string }
  | { ok: false, reason: 'not-found' }

// Redis could not be asked (not connected, no answer in time, an error reply).
export class RegistryUnreachable extends Error {
  constructor (cause: unknown) {
    super(`registry store unreachable: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'RegistryUnreachable'
  }
}

export interface RedisRegistryOptions {
  config: RegistryConfig
  logger: FastifyBaseLogger
  metrics: GatewayMetrics
  connectTimeoutMs?: number
  commandTimeoutMs?: number
}

function clientOptions (opts: RedisRegistryOptions, name: string): RedisOptions {
  return {
    // A write answers 503 at once when Redis is away; it never waits in a queue.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    retryStrategy: (times: number) => Math.min(RECONNECT_BASE_MS * 2 ** Math.min(times - 1, 16), RECONNECT_MAX_MS),
    reconnectOnError: null,
    // Subscribed again by hand on every `ready`, then re-read: see #onSubscriberReady.
    autoResubscribe: false,
    connectionName: name,
  }
}

export class RedisRegistry extends EventEmitter {
  readonly #opts: RedisRegistryOptions
  readonly #client: Redis
  readonly #subscriber: Redis
  readonly #scripted: ScriptedRedis
  readonly #keys: [string, string, string]
  readonly #channel: string
  #subscribed = false
  #degraded = false
  #closing = false
  #lastError: Error | null = null
  #probe: NodeJS.Timeout | null = null

  constructor (opts: RedisRegistryOptions) {
    super()
    this.#opts = opts
    const { url, keyPrefix } = opts.config.redis
    this.#keys = [`${keyPrefix}services`, `${keyPrefix}prefixes`, `${keyPrefix}revision`]
    this.#channel = `${keyPrefix}changes`
    this.#client = new Redis(url, clientOptions(opts, 'gatehouse-registry'))
    this.#client.defineCommand('gatehouseRegistryPut', { numberOfKeys: 3, lua: PUT_SCRIPT })
    this.#client.defineCommand('gatehouseRegistryDelete', { numberOfKeys: 3, lua: DELETE_SCRIPT })
    this.#client.defineCommand('gatehouseRegistrySnapshot', { numberOfKeys: 3, lua: SNAPSHOT_SCRIPT })
    this.#scripted = this.#client as unknown as ScriptedRedis
    // The subscription has a connection of its own (a subscribed connection runs no commands).
    this.#subscriber = new Redis(url, { ...clientOptions(opts, 'gatehouse-registry-sub'), commandTimeout: undefined })
    for (const c of [this.#client, this.#subscriber]) {
      c.on('error', (err: Error) => { this.#lastError = err })
      c.on('close', () => this.#lost())
    }
    this.#client.on('ready', () => this.emit('changed'))
    this.#subscriber.on('ready', () => this.#onSubscriberReady())
    this.#subscriber.on('message', (channel: string) => { if (channel === this.#channel) this.emit('changed') })
  }

  get degraded (): boolean {
    return this.#degraded
  }

  // Resolves once both connections are up and subscribed, or when the connect timeout
  // has passed (then the registry starts degraded; it recovers on its own).
  async started (): Promise<void> {
    if (!this.#healthy()) {
      await new Promise<void>((resolve) => {
        const check = () => { if (this.#healthy()) finish() }
        const finish = () => {
          clearTimeout(timer)
          this.off('subscribed', check)
          this.#client.off('ready', check)
          resolve()
        }
        const timer = setTimeout(finish, (this.#opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) + 100)
        this.on('subscribed', check)
        this.#client.on('ready', check)
      })
    }
    if (!this.#healthy()) this.#markDegraded(this.#lastError ?? new Error('not connected'))
  }

  async snapshot (): Promise<RegistrySnapshot> {
    const [revision, flat] = await this.#call(() => this.#scripted.gatehouseRegistrySnapshot(...this.#keys))
    const entries: RegistryEntry[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const stored = JSON.parse(flat[i + 1]) as { revision: number, body: Record<string, unknown> }
      entries.push({ name: flat[i], revision: stored.revision, body: stored.body })
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    return { revision: Number(revision), entries }
  }

  async put (name: string, prefix: string, body: Record<string, unknown>): Promise<RegistryWrite> {
    const [code, value] = await this.#call(() =>
      this.#scripted.gatehouseRegistryPut(...this.#keys, name, prefix, JSON.stringify(body), this.#channel))
    if (code === 0) return { ok: false, reason: 'conflict', holder: String(value) }
    return { ok: true, created: code === 1, revision: Number(value) }
  }

  async delete (name: string): Promise<RegistryWrite> {
    const revision = await this.#call(() => this.#scripted.gatehouseRegistryDelete(...this.#keys, name, this.#channel))
    if (revision === 0) return { ok: false, reason: 'not-found' }
    return { ok: true, created: false, revision }
  }

  // The provider read the stored set and applied it: with both connections up, this
  // instance is in step with the cluster again.
  synced (): void {
    if (this.#degraded && this.#healthy()) this.#markRecovered()
  }

  async close (): Promise<void> {
    this.#closing = true
    this.#stopProbe()
    this.#client.disconnect()
    this.#subscriber.disconnect()
  }

  async #call<T> (fn: () => Promise<T>): Promise<T> {
    if (this.#client.status !== 'ready') throw new RegistryUnreachable(new Error(`connection ${this.#client.status}`))
    try {
      return await fn()
    } catch (err) {
      // An answer that is an error (a script bug, READONLY) or none in time: either way
      // this instance cannot tell what the cluster holds.
      this.#markDegraded(err as Error)
      throw new RegistryUnreachable(err)
    }
  }

  #healthy (): boolean {
    return this.#client.status === 'ready' && this.#subscribed
  }

  #onSubscriberReady () {
    this.#subscriber.subscribe(this.#channel).then(() => {
      this.#subscribed = true
      this.emit('subscribed')
      // Whatever was announced while the subscription was down is read now.
      this.emit('changed')
    }, (err: Error) => {
      this.#lastError = err
      this.#subscriber.disconnect(true)
    })
  }

  #lost () {
    if (this.#subscriber.status !== 'ready') this.#subscribed = false
    if (!this.#closing) this.#markDegraded(this.#lastError ?? new Error('connection closed'))
  }

  #markDegraded (err: Error) {
    if (this.#degraded || this.#closing) return
    this.#degraded = true
    this.#opts.metrics.registryDegraded.set(1)
    this.#opts.logger.warn({ reason: err.message }, 'registry store degraded: routes serve as they are, admin writes answer 503')
    this.#probe = setInterval(() => { if (this.#healthy()) this.emit('changed') }, PROBE_INTERVAL_MS)
    this.#probe.unref()
  }

  #markRecovered () {
    if (!this.#degraded || this.#closing) return
    this.#degraded = false
    this.#stopProbe()
    this.#opts.metrics.registryDegraded.set(0)
    this.#opts.logger.info('registry store recovered: in step with the stored services again')
  }

  #stopProbe () {
    if (this.#probe !== null) clearInterval(this.#probe)
    this.#probe = null
  }
}
