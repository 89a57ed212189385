// autocannon's own latency histogram has 1 ms resolution, too coarse for a proxy on
// loopback (p50 ~ 2-5 ms). Its `response` event gives the duration in fractional ms; this
// records it in fixed 10 µs buckets (one array increment per response).

export interface LatencyHistogram {
  record: (ms: number) => void
  percentile: (p: number) => number | null
  readonly count: number
}

export const DEFAULT_RESOLUTION_MS = 0.01
export const DEFAULT_MAX_MS = 5000

export function createLatencyHistogram (resolutionMs = DEFAULT_RESOLUTION_MS, maxMs = DEFAULT_MAX_MS): LatencyHistogram {
  const size = Math.ceil(maxMs / resolutionMs)
  // The last bucket collects everything above maxMs; `max` keeps the real value for it.
  const buckets = new Uint32Array(size + 1)
  let count = 0
  let max = 0
  return {
    record (ms: number) {
      if (!(ms >= 0)) return
      const i = Math.floor(ms / resolutionMs)
      buckets[i < size ? i : size]++
      count++
      if (ms > max) max = ms
    },
    // The smallest recorded value v such that at least p % of the values are <= v
    // (bucket upper bound, so never under-reported).
    percentile (p: number) {
      if (count === 0) return null
      const rank = Math.max(1, Math.ceil((p / 100) * count))
      let seen = 0
      for (let i = 0; i <= size; i++) {
        seen += buckets[i]
        if (seen >= rank) return i === size ? max : Math.min(max, (i + 1) * resolutionMs)
      }
      return max
    },
    get count () { return count },
  }
}
