import { EventEmitter } from 'node:events'

// opossum's defaults: a 10 s statistical window in 10 buckets of 1 s.
export const DEFAULT_ROLLING_WINDOW_MS = 10_000
export const DEFAULT_ROLLING_BUCKETS = 10

// One timer rotates the statistics window of every breaker of a gateway (opossum's
// `rotateBucketController` option: each breaker's window listens for 'rotate'), instead
// of one interval per breaker. It runs while at least one breaker is added.
export class BucketClock {
  readonly emitter = new EventEmitter()
  private readonly breakers = new Set<object>()
  private timer: NodeJS.Timeout | null = null
  private readonly bucketMs: number

  constructor (bucketMs = DEFAULT_ROLLING_WINDOW_MS / DEFAULT_ROLLING_BUCKETS) {
    this.bucketMs = bucketMs
    // One listener per breaker, by design.
    this.emitter.setMaxListeners(0)
  }

  add (breaker: object) {
    this.breakers.add(breaker)
    if (this.timer === null) {
      this.timer = setInterval(() => this.emitter.emit('rotate'), this.bucketMs)
      this.timer.unref()
    }
  }

  remove (breaker: object) {
    this.breakers.delete(breaker)
    if (this.breakers.size === 0) this.stop()
  }

  stop () {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}
