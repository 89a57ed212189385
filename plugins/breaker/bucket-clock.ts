import { EventEmitter } from 'node:events'
import { DEFAULT_ROLLING_BUCKETS, DEFAULT_ROLLING_WINDOW_MS, type UpstreamBreaker } from './upstream-breaker.ts'

// One timer rotates the statistics window of every breaker of a gateway (opossum's
// `rotateBucketController`), instead of one interval per breaker. After each rotation the
// breakers re-read their current bucket, which is where the hot path counts.
export class BucketClock {
  readonly emitter = new EventEmitter()
  private readonly breakers = new Set<UpstreamBreaker>()
  private timer: NodeJS.Timeout | null = null
  private readonly bucketMs: number

  constructor (bucketMs = DEFAULT_ROLLING_WINDOW_MS / DEFAULT_ROLLING_BUCKETS) {
    this.bucketMs = bucketMs
    // One listener per breaker, by design.
    this.emitter.setMaxListeners(0)
  }

  add (breaker: UpstreamBreaker) {
    this.breakers.add(breaker)
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.bucketMs)
      this.timer.unref()
    }
  }

  remove (breaker: UpstreamBreaker) {
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
