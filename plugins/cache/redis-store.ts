import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { decodeEntry, encodeEntry, type CacheEntry } from './entry.ts'
import type { CacheStore, LookupCallback } from './store.ts'

function noop () {}

// Entries shared by every gateway instance on the same Redis. The connection (one per
// gateway, see stores.ts) has no offline queue and a command timeout (`rateLimit.redis
// .timeout`), so a lookup waits at most that long; Redis down or slow = a miss.
export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis' as const
  private readonly client: Redis
  // `<rateLimit.redis.keyPrefix>_cache:<service>:<config digest>:`; `_` never starts a
  // service name, so no rate-limit counter key (`<keyPrefix><service>:...`) can collide.
  private readonly prefix: string

  constructor (client: Redis, prefix: string) {
    this.client = client
    this.prefix = prefix
  }

  private redisKey (key: string): string {
    // Keys hold whole request URLs: a digest keeps them short and free of odd bytes.
    return this.prefix + createHash('sha256').update(key).digest('base64url')
  }

  get (key: string, cb: LookupCallback): void {
    if (this.client.status !== 'ready') return cb(null)
    this.client.getBuffer(this.redisKey(key), (err, buf) => {
      if (err || buf === null || buf === undefined) return cb(null)
      const entry = decodeEntry(buf)
      cb(entry !== null && entry.expiresAt > Date.now() ? entry : null)
    })
  }

  set (key: string, entry: CacheEntry, ttlMs: number): void {
    if (this.client.status !== 'ready') return
    this.client.set(this.redisKey(key), encodeEntry(entry), 'PX', Math.max(1, Math.ceil(ttlMs)), noop)
  }
}
