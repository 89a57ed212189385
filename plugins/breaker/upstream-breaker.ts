import CircuitBreaker from 'opossum'
import type { CircuitBreakerConfig } from './schema.ts'
import type { CircuitState } from '../../lib/service-runtime.ts'
import { DEFAULT_ROLLING_BUCKETS, DEFAULT_ROLLING_WINDOW_MS, type BucketClock } from './bucket-clock.ts'

// Calls let through at once while half-open; the first answer decides.
export const DEFAULT_HALF_OPEN_PROBES = 1

export interface UpstreamBreakerOptions {
  config: CircuitBreakerConfig
  clock: BucketClock
  name: string
  onTransition: (to: CircuitState) => void
}

function neverFired (): never {
  throw new Error('the upstream breaker is driven by the dispatcher, never fired')
}

// One opossum breaker per upstream origin, driven without `fire()`.
//
// `fire()` costs ~0.7 µs and ~1.3 KB of garbage per call (promises, an args array, a
// latency sample kept for the whole window; ~1.8 µs with its own timeout timer), and the
// upstream call is callback-based and already timed by undici. So the dispatcher asks
// `admits()`/`enter()` before the call and reports `success`/`failure`/`abandon` after;
// this class counts into opossum's current statistics bucket (two integer increments on
// success) and calls opossum's own `open()`/`close()`. opossum still owns the state
// machine: the reset timer that makes an open breaker half-open, its events, its rolling
// window (rotated by the shared BucketClock) and `stats`/`toJSON()` for inspection.
// The opening rule is opossum's: at least `volumeThreshold` calls in the window and a
// failure share strictly above `errorThresholdPercentage`.
export class UpstreamBreaker {
  readonly opossum: CircuitBreaker
  readonly config: CircuitBreakerConfig
  readonly maxProbes: number
  // Half-open probes sent and not answered yet.
  probing = 0
  openedAt = 0
  private bucket: CircuitBreaker.Bucket
  private readonly clock: BucketClock

  constructor (opts: UpstreamBreakerOptions) {
    this.config = opts.config
    this.maxProbes = DEFAULT_HALF_OPEN_PROBES
    this.clock = opts.clock
    this.opossum = new CircuitBreaker(neverFired, {
      name: opts.name,
      // The upstream budget is undici's (reply-from `timeout`); no timer per call here.
      timeout: false,
      errorThresholdPercentage: opts.config.errorThresholdPercentage,
      volumeThreshold: opts.config.volumeThreshold,
      resetTimeout: opts.config.resetTimeoutMs,
      rollingCountTimeout: DEFAULT_ROLLING_WINDOW_MS,
      rollingCountBuckets: DEFAULT_ROLLING_BUCKETS,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: opts.clock.emitter,
    })
    this.bucket = this.opossum.status.window[0]!
    const b = this.opossum
    b.on('open', () => {
      this.openedAt = Date.now()
      opts.onTransition('open')
    })
    b.on('halfOpen', () => opts.onTransition('half-open'))
    b.on('close', () => {
      // A recovered upstream starts from a clean window: failures from before the
      // outage must not re-open it on the first error after recovery.
      for (const bucket of b.status.window) {
        bucket.fires = bucket.failures = bucket.successes = bucket.timeouts = bucket.rejects = 0
      }
      opts.onTransition('closed')
    })
    opts.clock.add(this)
  }

  // Called by the clock right after opossum rotated its window.
  refreshBucket () {
    this.bucket = this.opossum.status.window[0]!
  }

  // May a call go to this upstream now (closed, or half-open with a probe slot free)?
  admits (): boolean {
    const b = this.opossum
    return b.closed || (b.halfOpen && this.probing < this.maxProbes)
  }

  // Called for the call admitted; true when it is a half-open probe (pass it back below).
  enter (): boolean {
    if (!this.opossum.halfOpen) return false
    this.probing++
    return true
  }

  success (probe: boolean) {
    const bucket = this.bucket
    bucket.fires++
    bucket.successes++
    if (probe) {
      this.probing--
      if (this.opossum.halfOpen) this.opossum.close()
    }
  }

  failure (probe: boolean, timeout: boolean) {
    const bucket = this.bucket
    bucket.fires++
    bucket.failures++
    if (timeout) bucket.timeouts++
    const b = this.opossum
    if (probe) {
      this.probing--
      if (b.halfOpen) b.open()
      return
    }
    if (b.closed && this.overThreshold()) b.open()
  }

  // The client left before the upstream answered: neither a success nor a failure,
  // but a probe slot must come back.
  abandon (probe: boolean) {
    if (probe) this.probing--
  }

  // Whole seconds until the breaker lets a probe through (at least 1).
  retryAfterSeconds (now = Date.now()): number {
    const ms = this.openedAt + this.config.resetTimeoutMs - now
    return ms > 1000 ? Math.ceil(ms / 1000) : 1
  }

  shutdown () {
    this.clock.remove(this)
    this.opossum.shutdown()
  }

  private overThreshold (): boolean {
    let fires = 0
    let failures = 0
    for (const bucket of this.opossum.status.window) {
      fires += bucket.fires
      failures += bucket.failures
    }
    return fires >= this.config.volumeThreshold &&
      failures * 100 > fires * this.config.errorThresholdPercentage
  }
}
