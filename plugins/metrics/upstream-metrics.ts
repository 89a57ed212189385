import type { ServiceRuntime, UpstreamState } from '../../lib/service-runtime.ts'
import type { UpstreamHooks, UpstreamOutcome } from '../breaker/upstream-call.ts'
import type { GatewayMetrics } from './gateway-metrics.ts'

interface Inc { inc: (value?: number) => void }

interface UpstreamSeries {
  duration: { observe: (value: number) => void }
  timeout: Inc
  refused: Inc
  reset: Inc
  status5xx: Inc
}

// Upstream call metrics, fed by the dispatcher's onOutcome for every call it reports
// (a retry is a second call; a call the client aborted is never reported). An
// UpstreamState belongs to exactly one service, so its label children are cached on it.
export function upstreamMetricsHooks (metrics: GatewayMetrics): UpstreamHooks {
  const cache = new WeakMap<UpstreamState, UpstreamSeries>()

  function seriesFor (svc: ServiceRuntime, up: UpstreamState): UpstreamSeries {
    let series = cache.get(up)
    if (series === undefined) {
      const service = svc.name
      const upstream = up.origin
      series = {
        duration: metrics.upstreamDuration.labels({ service, upstream }),
        timeout: metrics.upstreamErrors.labels({ service, upstream, kind: 'timeout' }),
        refused: metrics.upstreamErrors.labels({ service, upstream, kind: 'refused' }),
        reset: metrics.upstreamErrors.labels({ service, upstream, kind: 'reset' }),
        status5xx: metrics.upstreamErrors.labels({ service, upstream, kind: 'status_5xx' }),
      }
      cache.set(up, series)
    }
    return series
  }

  return {
    onOutcome (svc: ServiceRuntime, up: UpstreamState, outcome: UpstreamOutcome) {
      if (outcome.kind === 'aborted') return
      const series = seriesFor(svc, up)
      series.duration.observe(outcome.durationMs / 1000)
      switch (outcome.kind) {
        case null:
          if (outcome.statusCode !== null && outcome.statusCode >= 500) series.status5xx.inc()
          break
        case 'timeout':
          series.timeout.inc()
          break
        case 'refused':
          series.refused.inc()
          break
        default: // reset, malformed: the connection broke or carried no valid answer
          series.reset.inc()
      }
    },
  }
}
