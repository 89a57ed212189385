import { EventEmitter } from 'node:events'

// opossum's defaults: a 10 s statistical window in 10 buckets of 1 s.
export const DEFAULT_ROLLING_WINDOW_MS = 10_000
export const DEFAULT_ROLLING_BUCKETS = 10

// A breaker that counts into its current bucket and must re-read it after a rotation.
export interface BucketReader {
  refreshBucket: () => void
}

// One timer rotates the statistics window of every breaker of a gateway (opossum's
// `rotateBucketController`), instead of one interval per breaker. After each rotation the
// breakers re-read their current bucket, which is where the hot path counts.
export class BucketClock {
  readonly emitter = new EventEmitter()
  private readonly breakers = new Set<BucketReader>()
  private timer: NodeJS.Timeout | null = null
  private readonly bucketMs: number

  constructor (bucketMs = DEFAULT_ROLLING_WINDOW_MS / DEFAULT_ROLLING_BUCKETS) {
    this.bucketMs = bucketMs
    // One listener per breaker, by design.
    this.emitter.setMaxListeners(0)
  }

  add (breaker: BucketReader) {
    this.breakers.add(breaker)
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.bucketMs)
      this.timer.unref()
    }
  }

  remove (breaker: BucketReader) {
    this.breakers.delete(breaker)
    if (this.breakers.size === 0) this.stop()
  }

  stop () {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  private tick () {
    this.emitter.emit('rotate')
    for (const breaker of this.breakers) breaker.refreshBucket()
  }
}
