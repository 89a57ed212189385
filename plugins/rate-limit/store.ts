// Counting as @fastify/rate-limit's documented store contract has it: `incr` counts one
// hit on `key` in a fixed window of `timeWindow` ms and reports the count so far and the
// ms left in the window. The plugin builds its store itself, once per registration (one
// per generation); the stores here outlive generations and are what it delegates to
// (index.ts), so counters of unchanged services survive a reload.
export interface IncrResult {
  current: number
  ttl: number
}

export type IncrCallback = (err: Error | null, result?: IncrResult) => void

export interface RateLimitStore {
  incr: (key: string, cb: IncrCallback, timeWindow: number, max: number) => void
}

// The gateway-lifetime store (GatewayContext.rateLimitStore).
export interface GatewayRateLimitStore extends RateLimitStore {
  readonly kind: 'memory' | 'redis'
  // Redis unreachable (onStoreError applies); a memory store never is.
  readonly degraded?: boolean
  close: () => Promise<void>
}

// Keys one instance may hold in memory: rotating clients cannot grow it without bound;
// an evicted key only restarts its window.
export const DEFAULT_MEMORY_KEYS = 100_000

// One key's window; also the result handed to the callback (read at once, never kept),
// so a count allocates nothing once the key is known.
interface Window extends IncrResult {
  startMs: number
}

// Fixed windows in process memory, counted as @fastify/rate-limit's own LocalStore counts
// (a window opens on the first hit and lasts timeWindow ms). Bounded the way quick-lru is:
// two generations of at most maxKeys/2 keys; a key used in the older one moves to the
// newer, and when the newer is full the older is dropped whole. A hot key costs one Map
// lookup, and only keys unused for a whole generation are forgotten.
export class MemoryStore implements GatewayRateLimitStore {
  readonly kind = 'memory' as const
  private recent = new Map<string, Window>()
  private older = new Map<string, Window>()
  private readonly half: number

  constructor (maxKeys: number = DEFAULT_MEMORY_KEYS) {
    this.half = Math.max(1, Math.floor(maxKeys / 2))
  }

  get size (): number {
    return this.recent.size + this.older.size
  }

  incr (key: string, cb: IncrCallback, timeWindow: number, _max: number): void {
    const now = Date.now()
    let w = this.recent.get(key)
    if (w === undefined) {
      w = this.older.get(key)
      if (w === undefined) w = { current: 0, ttl: timeWindow, startMs: now }
      else this.older.delete(key)
      if (this.recent.size >= this.half) {
        this.older = this.recent
        this.recent = new Map()
      }
      this.recent.set(key, w)
    }
    if (w.current === 0 || w.startMs + timeWindow <= now) {
      w.current = 1
      w.startMs = now
      w.ttl = timeWindow
    } else {
      w.current++
      w.ttl = w.startMs + timeWindow - now
    }
    cb(null, w)
  }

  async close (): Promise<void> {}
}

export function createMemoryStore (maxKeys: number = DEFAULT_MEMORY_KEYS): MemoryStore {
  return new MemoryStore(maxKeys)
}
