import autocannon from 'autocannon'
import { createLatencyHistogram } from './latency-histogram.ts'

// One bounded load run with autocannon: fixed connections, no rate limit, keep-alive.

export interface LoadOptions {
  url: string
  connections: number
  pipelining: number
  durationS: number // with amount: only the time limit
  amount?: number // stop after exactly this many requests (over all connections) instead
  headers?: Record<string, string>
  signal?: AbortSignal
}

export interface LoadResult {
  requests: number // completed responses
  durationS: number
  rps: number
  p50Ms: number | null
  p99Ms: number | null
  non2xx: number
  errors: number
  timeouts: number
  timedOut: boolean // the watchdog had to stop it
  statuses: Record<string, number> // non-2xx answers by status code
}

// Past duration + grace the run is stopped; past that plus a hard limit it is abandoned.
const STOP_GRACE_MS = 10_000
const ABANDON_AFTER_STOP_MS = 5_000

export function runLoad (opts: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new Error('aborted'))
      return
    }
    const histogram = createLatencyHistogram()
    const statuses: Record<string, number> = {}
    let timedOut = false
    let abandon: NodeJS.Timeout | undefined
    let settled = false
    const instance = autocannon({
      url: opts.url,
      connections: opts.connections,
      pipelining: opts.pipelining,
      duration: opts.durationS,
      ...(opts.amount === undefined ? {} : { amount: opts.amount }),
      headers: opts.headers,
      timeout: 10,
    }, (err, result) => {
      finish()
      if (settled) return
      settled = true
      if (err) {
        reject(err)
        return
      }
      const durationS = result.duration > 0 ? result.duration : opts.durationS
      const requests = result.requests.total
      resolve({
        requests,
        durationS,
        rps: requests / durationS,
        p50Ms: histogram.percentile(50),
        p99Ms: histogram.percentile(99),
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        timedOut,
        statuses,
      })
    })
    instance.on('response', (_client, status, _bytes, responseTime) => {
      histogram.record(responseTime)
      if (status < 200 || status > 299) statuses[status] = (statuses[status] ?? 0) + 1
    })

    const watchdog = setTimeout(() => {
      timedOut = true
      instance.stop()
      abandon = setTimeout(() => {
        if (settled) return
        settled = true
        reject(new Error(`load run on ${opts.url} did not stop`))
      }, ABANDON_AFTER_STOP_MS)
    }, opts.durationS * 1000 + STOP_GRACE_MS)
    const onAbort = () => instance.stop()
    opts.signal?.addEventListener('abort', onAbort, { once: true })

    function finish () {
      clearTimeout(watchdog)
      clearTimeout(abandon)
      opts.signal?.removeEventListener('abort', onAbort)
    }
  })
}
