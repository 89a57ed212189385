import type { CacheEntry } from './entry.ts'

export type LookupCallback = (entry: CacheEntry | null) => void

// Where entries live. `get` answers null for a miss and for any store failure: a cache
// that cannot answer is a miss, never an error. The memory store answers synchronously.
export interface CacheStore {
  readonly kind: 'memory' | 'redis'
  get: (key: string, cb: LookupCallback) => void
  // Fire and forget; `ttlMs` > 0.
  set: (key: string, entry: CacheEntry, ttlMs: number) => void
}

// Concurrent misses for one key: the first request (the leader) goes upstream, the others
// wait for what it gets. Resolved with the stored entry, or null when the leader's answer
// was not cacheable or never completed (then each waiter goes upstream itself).
export interface Flight {
  waiters: Array<(entry: CacheEntry | null) => void>
}
