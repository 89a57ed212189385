import type { Counter, LabelValues } from 'prom-client'
import { CIRCUIT_TRANSITION_LABEL, UNMATCHED_SERVICE, type GatewayMetrics } from './gateway-metrics.ts'

// Prometheus takes a series' first sample as its baseline: a counter series born at 1
// shows no increase, so the first breaker opening, 429 or 401 of a label set would never
// be seen by rate() or increase(). Every counter series whose labels the config makes
// known therefore exists, at 0, as soon as the generation that can count it goes live.
//
// When a service or upstream leaves the config, its series go (Prometheus' guidance for
// a label set that no longer exists; it also keeps churn through the admin API from
// growing the exposition without bound): all series labelled with a removed service, or
// with an upstream its service no longer has; the breaker, rate-limit and auth series of
// a service that no longer has a breaker, a limit or auth. gatehouse_websocket_connections
// is left alone: its tunnels outlive the generation and still count down.

export const UPSTREAM_ERROR_KINDS = ['timeout', 'refused', 'reset', 'status_5xx'] as const
export const AUTH_FAILURE_REASONS = ['missing', 'invalid', 'expired', 'scope'] as const
const TRANSITIONS = Object.values(CIRCUIT_TRANSITION_LABEL)

// What one service of a generation can count.
export interface KnownService {
  name: string
  upstreams: readonly string[]
  breaker: boolean
  rateLimit: boolean
  auth: boolean
}

export interface KnownSeries {
  // A generation went live with these services: their series start at 0 (a series that
  // exists keeps its value), those of what it no longer has are removed.
  apply: (services: readonly KnownService[]) => Promise<void>
  // Removes them again once a replaced generation has closed: its last requests may have
  // counted into a removed series after apply(), which brings a prom-client series back.
  prune: () => Promise<void>
}

type Labels = Record<string, string | number>

async function retain<T extends string> (counter: Counter<T>, keep: (labels: Labels) => boolean) {
  const { values } = await counter.get()
  for (const v of values) if (!keep(v.labels as Labels)) counter.remove(v.labels as LabelValues<T>)
}

export function createKnownSeries (metrics: GatewayMetrics): KnownSeries {
  let current = new Map<string, KnownService>()

  function start (svc: KnownService) {
    const service = svc.name
    for (const upstream of svc.upstreams) {
      for (const kind of UPSTREAM_ERROR_KINDS) metrics.upstreamErrors.inc({ service, upstream, kind }, 0)
      if (svc.breaker) for (const to of TRANSITIONS) metrics.circuitTransitions.inc({ service, upstream, to }, 0)
    }
    if (svc.rateLimit) metrics.rateLimited.inc({ service }, 0)
    if (svc.auth) for (const reason of AUTH_FAILURE_REASONS) metrics.authFailures.inc({ service, reason }, 0)
  }

  async function prune () {
    // Read at each test, not once: an apply() while this prune waits must win.
    const service = (l: Labels) => current.get(String(l.service))
    const upstream = (l: Labels) => service(l)?.upstreams.includes(String(l.upstream)) === true
    const ownService = (l: Labels) => l.service === UNMATCHED_SERVICE || current.has(String(l.service))
    metrics.httpRequests.retain(ownService)
    metrics.httpDuration.retain(ownService)
    metrics.upstreamDuration.retain(upstream)
    await Promise.all([
      retain(metrics.upstreamErrors, upstream),
      retain(metrics.circuitTransitions, (l) => upstream(l) && service(l)!.breaker),
      retain(metrics.rateLimited, (l) => service(l)?.rateLimit === true),
      retain(metrics.authFailures, (l) => service(l)?.auth === true),
      retain(metrics.cacheRequests, ownService),
    ])
  }

  return {
    async apply (services) {
      current = new Map(services.map((s) => [s.name, s]))
      for (const svc of services) start(svc)
      await prune()
    },
    prune,
  }
}
