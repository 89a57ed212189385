import { entrySize, type CacheEntry } from './entry.ts'
import type { CacheStore, LookupCallback } from './store.ts'

// Least-recently-used, bounded by entry count (`cache.maxEntries`) and by bytes: 10 000
// entries of up to 1 MiB each would be 10 GiB otherwise. A Map keeps insertion order;
// a hit moves its key to the end, eviction takes from the front. Expired entries go when
// read or when evicted.
export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory' as const
  private readonly entries = new Map<string, CacheEntry>()
  private bytes = 0
  private readonly maxEntries: number
  private readonly maxBytes: number

  constructor (maxEntries: number, maxBytes: number) {
    this.maxEntries = maxEntries
    this.maxBytes = maxBytes
  }

  get size (): number {
    return this.entries.size
  }

  get (key: string, cb: LookupCallback): void {
    const entry = this.entries.get(key)
    if (entry === undefined) return cb(null)
    this.entries.delete(key)
    if (entry.expiresAt <= Date.now()) {
      this.bytes -= entrySize(entry)
      return cb(null)
    }
    this.entries.set(key, entry)
    cb(entry)
  }

  set (key: string, entry: CacheEntry): void {
    const old = this.entries.get(key)
    if (old !== undefined) {
      this.entries.delete(key)
      this.bytes -= entrySize(old)
    }
    this.entries.set(key, entry)
    this.bytes += entrySize(entry)
    while (this.entries.size > this.maxEntries || (this.bytes > this.maxBytes && this.entries.size > 1)) {
      const oldest = this.entries.keys().next().value as string
      this.bytes -= entrySize(this.entries.get(oldest)!)
      this.entries.delete(oldest)
    }
  }
}
