import CircuitBreaker from 'opossum'
import type { CircuitBreakerConfig } from './schema.ts'
import type { BreakerAction, CircuitState, UpstreamBreakerHandle } from '../../lib/service-runtime.ts'
import { DEFAULT_ROLLING_BUCKETS, DEFAULT_ROLLING_WINDOW_MS, type BucketClock } from './bucket-clock.ts'
import { UpstreamFailure } from './upstream-call.ts'

export interface UpstreamBreakerOptions {
  config: CircuitBreakerConfig
  clock: BucketClock
  name: string
  onTransition: (to: CircuitState) => void
}

type Opossum = CircuitBreaker<[BreakerAction<unknown>], unknown>

// opossum's action: the upstream attempt runs itself (plugins/breaker/upstream-call.ts).
function runAttempt (attempt: BreakerAction<unknown>): Promise<unknown> {
  return attempt.run()
}

// opossum's errorFilter: a filtered rejection counts as a success. Only the client
// leaving is filtered (UpstreamAttempt.clientLeft says why); 4xx answers resolve.
function clientLeft (err: unknown): boolean {
  return err instanceof UpstreamFailure && err.attempt.clientLeft
}

// One opossum CircuitBreaker per upstream state, used as designed: every attempt is its
// action, run through fire(), and opossum decides. Its state machine (open, the reset
// timer to half-open, one probe while half-open through its pending close, the probe's
// outcome closing or re-opening it), its rolling window (rotated by the shared
// BucketClock), `volumeThreshold` and `errorThresholdPercentage` (open at or past the
// volume with a failure share strictly above it). Its events keep UpstreamState.circuit,
// the metrics and the transition logs in step (onTransition).
//
// No `timeout`: the upstream timeout is the dispatcher's timer per attempt, which cuts
// the call itself; its 504 reaches opossum as a failure.
//
// opossum keeps its window across a close, so the failures that opened it would re-open
// it at the first error after recovery (Hystrix and resilience4j reset their counts on
// close). A closed breaker therefore starts over as a new CircuitBreaker: closed, with an
// empty window; the one that closed is shut down (a call still out on it counts nowhere).
export class UpstreamBreaker implements UpstreamBreakerHandle {
  opossum: Opossum
  readonly config: CircuitBreakerConfig
  // When opossum last opened (its reset timer starts then), for Retry-After.
  openedAt = 0
  private readonly opts: UpstreamBreakerOptions

  constructor (opts: UpstreamBreakerOptions) {
    this.config = opts.config
    this.opts = opts
    this.opossum = this.create()
    opts.clock.add(this)
  }

  admits (): boolean {
    const b = this.opossum
    return b.closed || b.pendingClose
  }

  // opossum's own refusal is a rejected promise with no attempt to answer; asking its
  // state first (the same test fire() makes) keeps a refusal synchronous and uncounted.
  fire<T> (action: BreakerAction<T>): Promise<T> | null {
    const b = this.opossum
    if (b.closed || b.pendingClose) return b.fire(action) as Promise<T>
    // Released (no service uses this upstream any more) while an older generation still
    // sends it its last calls: nothing left to count into.
    if (b.isShutdown) return action.run()
    return null
  }

  retryAfterSeconds (now = Date.now()): number {
    const ms = this.openedAt + this.config.resetTimeoutMs - now
    return ms > 1000 ? Math.ceil(ms / 1000) : 1
  }

  shutdown () {
    this.opts.clock.remove(this)
    this.opossum.shutdown()
  }

  private create (): Opossum {
    const { config, clock, name, onTransition } = this.opts
    const b: Opossum = new CircuitBreaker(runAttempt, {
      name,
      timeout: false,
      errorThresholdPercentage: config.errorThresholdPercentage,
      volumeThreshold: config.volumeThreshold,
      resetTimeout: config.resetTimeoutMs,
      rollingCountTimeout: DEFAULT_ROLLING_WINDOW_MS,
      rollingCountBuckets: DEFAULT_ROLLING_BUCKETS,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: clock.emitter,
      errorFilter: clientLeft,
    })
    b.on('open', () => {
      this.openedAt = Date.now()
      onTransition('open')
    })
    b.on('halfOpen', () => onTransition('half-open'))
    b.on('close', () => {
      this.opossum = this.create()
      b.shutdown()
      onTransition('closed')
    })
    return b
  }
}
