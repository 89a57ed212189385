// Steady load with a fixed number of workers (one keep-alive connection each at most) and
// a paced request rate. Every request ends in exactly one bucket: answered (by status and
// gateway error code), truncated (status received, body cut), or unanswered (no status:
// a connection error, or the client gave up after requestTimeoutMs). So the three add up
// to `sent` exactly, and "unanswered" is a count, not an estimate.
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'

export interface LoadTarget {
  url: string
  tokens: string[]
  badToken: string
}

export interface LoadStats {
  sent: number
  answered: Map<string, number>
  truncated: Map<string, number>
  unanswered: Map<string, number>
  durationsMs: number[]
  startedAt: number
  stoppedAt: number
}

const ORDER = JSON.stringify({ item: 7, quantity: 2, note: 'x'.repeat(160) })

interface Shot { method: 'GET' | 'POST', path: string, token: string, body?: string }

// The mix: mostly reads on both services, some non-idempotent writes (never retried by
// the gateway), and a few requests with an invalid token (answered 401 by auth).
function pick (n: number, target: LoadTarget): Shot {
  const token = target.tokens[n % target.tokens.length]!
  const r = n % 20
  if (r < 12) return { method: 'GET', path: `/api/alpha/items/${n % 100}`, token }
  if (r < 17) return { method: 'GET', path: `/api/beta/items/${n % 100}?page=${n % 3}`, token }
  if (r < 19) return { method: 'POST', path: '/api/alpha/orders', token, body: ORDER }
  return { method: 'GET', path: '/api/alpha/items/1', token: target.badToken }
}

function bump (map: Map<string, number>, key: string) {
  map.set(key, (map.get(key) ?? 0) + 1)
}

export class LoadGenerator {
  readonly stats: LoadStats = {
    sent: 0, answered: new Map(), truncated: new Map(), unanswered: new Map(), durationsMs: [], startedAt: 0, stoppedAt: 0,
  }

  private stopped = false
  private readonly pool: Pool
  private workers: Array<Promise<void>> = []
  private base = 0
  private issued = 0
  private readonly target: LoadTarget
  private readonly rate: number
  private readonly concurrency: number
  private readonly requestTimeoutMs: number

  constructor (target: LoadTarget, opts: { rate: number, concurrency: number, requestTimeoutMs: number }) {
    this.target = target
    this.rate = opts.rate
    this.concurrency = opts.concurrency
    this.requestTimeoutMs = opts.requestTimeoutMs
    // Client-side timeouts above requestTimeoutMs: the AbortSignal decides, and counts.
    this.pool = new Pool(target.url, {
      connections: opts.concurrency,
      headersTimeout: opts.requestTimeoutMs + 5000,
      bodyTimeout: opts.requestTimeoutMs + 5000,
    })
  }

  start (): void {
    this.stats.startedAt = Date.now()
    this.base = performance.now()
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.work())
  }

  // Stops issuing; resolves when every request already sent has ended (bounded by the
  // request timeout), then closes the client connections.
  async stop (): Promise<LoadStats> {
    this.stopped = true
    await Promise.all(this.workers)
    this.stats.stoppedAt = Date.now()
    await this.pool.close()
    return this.stats
  }

  private async nextSlot (): Promise<number | null> {
    const n = this.issued++
    let due = this.base + (n * 1000) / this.rate
    const now = performance.now()
    // More than a second behind (every worker held by slow answers): skip the backlog
    // instead of firing it as a burst; the achieved rate is reported.
    if (now - due > 1000) {
      this.base = now - (n * 1000) / this.rate
      due = now
    }
    if (due > now) await sleep(due - now)
    return this.stopped ? null : n
  }

  private async work (): Promise<void> {
    for (;;) {
      const n = await this.nextSlot()
      if (n === null) return
      await this.shoot(pick(n, this.target))
    }
  }

  private async shoot (shot: Shot): Promise<void> {
    const { stats } = this
    stats.sent++
    const started = performance.now()
    const signal = AbortSignal.timeout(this.requestTimeoutMs)
    let status: number
    let contentType: string
    let body: string
    try {
      const res = await this.pool.request({
        method: shot.method,
        path: shot.path,
        headers: {
          authorization: `Bearer ${shot.token}`,
          ...(shot.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: shot.body,
        signal,
      })
      status = res.statusCode
      contentType = String(res.headers['content-type'] ?? '')
      try {
        body = await res.body.text()
      } catch (err) {
        bump(stats.truncated, `${status} ${reason(err, signal)}`)
        return
      }
    } catch (err) {
      bump(stats.unanswered, reason(err, signal))
      return
    }
    stats.durationsMs.push(performance.now() - started)
    let key = String(status)
    if (contentType.startsWith('application/problem+json')) {
      try { key += ' ' + (JSON.parse(body) as { code?: string }).code } catch { key += ' (unparseable problem)' }
    }
    bump(stats.answered, key)
  }
}

function reason (err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'client timeout'
  const e = err as { code?: string, name?: string, message?: string }
  return e.code ?? e.name ?? String(e.message)
}

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
