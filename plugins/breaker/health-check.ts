import type { Dispatcher } from 'undici'
import type { HealthCheckConfig } from './schema.ts'

// A check never waits longer than this, nor longer than the interval.
export const DEFAULT_HEALTH_TIMEOUT_MS = 2000

export interface HealthCheckerOptions {
  agent: Dispatcher
  origin: string
  config: HealthCheckConfig
  // Called when the verdict flips; `reason` says why the last check failed.
  onChange: (up: boolean, reason: string | null) => void
}

// Active health check of one upstream: `GET path` every interval, 2xx/3xx healthy,
// `unhealthyAfter` failures in a row mark it down, `healthyAfter` successes mark it up.
// Checks never overlap (the next is scheduled when one ends) and the timer is unref'd,
// so it never keeps the process alive; stop() also aborts a check in flight.
export class HealthChecker {
  up = true
  private readonly opts: HealthCheckerOptions
  private readonly timeoutMs: number
  private failures = 0
  private successes = 0
  private timer: NodeJS.Timeout | null = null
  private inflight: AbortController | null = null
  private stopped = false

  constructor (opts: HealthCheckerOptions) {
    this.opts = opts
    this.timeoutMs = Math.min(DEFAULT_HEALTH_TIMEOUT_MS, opts.config.intervalMs)
  }

  // The first check runs one interval after start, like every later one: at start the
  // gateway is still busy building, and a check timed out by that lag would mark a
  // healthy upstream down. Until then the upstream counts as up (and its breaker guards it).
  start () {
    this.schedule(this.opts.config.intervalMs)
  }

  // A check running or scheduled.
  get active (): boolean {
    return this.timer !== null || this.inflight !== null
  }

  stop () {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.inflight?.abort()
    this.inflight = null
  }

  private async run () {
    this.timer = null
    const started = performance.now()
    const reason = await this.check()
    if (this.stopped) return
    this.record(reason)
    this.schedule(Math.max(0, this.opts.config.intervalMs - (performance.now() - started)))
  }

  private schedule (ms: number) {
    this.timer = setTimeout(() => { void this.run() }, ms)
    this.timer.unref()
  }

  // null when healthy, else a short reason for the log.
  private async check (): Promise<string | null> {
    const controller = new AbortController()
    this.inflight = controller
    const timer = setTimeout(() => controller.abort(), this.timeoutMs)
    try {
      const res = await this.opts.agent.request({
        origin: this.opts.origin,
        path: this.opts.config.path,
        method: 'GET',
        headers: { 'user-agent': 'gatehouse-health-check' },
        signal: controller.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      })
      await res.body.dump()
      return res.statusCode >= 200 && res.statusCode < 400 ? null : `status ${res.statusCode}`
    } catch (err) {
      if (controller.signal.aborted && !this.stopped) return 'timeout'
      return (err as { code?: string }).code ?? (err as Error).name ?? 'error'
    } finally {
      clearTimeout(timer)
      if (this.inflight === controller) this.inflight = null
    }
  }

  private record (reason: string | null) {
    const c = this.opts.config
    if (reason === null) {
      this.failures = 0
      this.successes++
      if (!this.up && this.successes >= c.healthyAfter) {
        this.up = true
        this.opts.onChange(true, null)
      }
      return
    }
    this.successes = 0
    this.failures++
    if (this.up && this.failures >= c.unhealthyAfter) {
      this.up = false
      this.opts.onChange(false, reason)
    }
  }
}
