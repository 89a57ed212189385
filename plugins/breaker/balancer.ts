import type { ServiceRuntime, UpstreamState } from '../../lib/service-runtime.ts'
import * as E from '../errors/errors.ts'

// What a first attempt has tried: nothing (shared, so the hot path allocates no array).
export const NOTHING_TRIED: readonly UpstreamState[] = Object.freeze([])

// Can a call go to this upstream now: marked up, and its breaker closed or half-open
// with its probe not yet sent (UpstreamState.circuit mirrors the breaker's state).
export function isAvailable (up: UpstreamState): boolean {
  return up.up && (up.circuit === 'closed' || (up.breaker !== null && up.breaker.admits()))
}

// Picks the upstream for one attempt: round-robin or least-connections (ties broken
// round-robin) over the available upstreams not tried yet. A retry goes back to a tried
// upstream only when no other is available (one upstream: the same one). Nothing
// available: 503, GW_NO_HEALTHY_UPSTREAM when every upstream is marked down, else
// GW_CIRCUIT_OPEN with Retry-After = seconds until the first breaker lets a probe through.
export function selectUpstream (svc: ServiceRuntime, tried: readonly UpstreamState[]): UpstreamState | E.GatewayError {
  const list = svc.upstreams
  const n = list.length
  if (n === 1) {
    const only = list[0]!
    return isAvailable(only) ? only : refusal(list)
  }
  const start = svc.nextIndex
  svc.nextIndex = start + 1 >= n ? 0 : start + 1
  let best: UpstreamState | null = null
  let fallback: UpstreamState | null = null
  for (let i = 0; i < n; i++) {
    const j = start + i
    const up = list[j >= n ? j - n : j]!
    if (!isAvailable(up)) continue
    if (tried.length > 0 && tried.includes(up)) {
      fallback ??= up
      continue
    }
    if (!svc.leastConnections) return up
    if (best === null || up.inflight < best.inflight) best = up
  }
  return best ?? fallback ?? refusal(list)
}

// The refusal for a call that one upstream's breaker (or health) does not let through.
export function refusalFor (up: UpstreamState): E.GatewayError {
  return refusal([up])
}

function refusal (list: readonly UpstreamState[]): E.GatewayError {
  let retryAfter = Infinity
  const now = Date.now()
  for (const up of list) {
    if (!up.up || up.breaker === null) continue
    const s = up.breaker.retryAfterSeconds(now)
    if (s < retryAfter) retryAfter = s
  }
  if (retryAfter === Infinity) return new E.NoHealthyUpstream('No healthy upstream is available')
  return E.withHeaders(new E.CircuitOpen('The upstream service is failing; the gateway is not sending it requests for now'),
    { 'retry-after': String(retryAfter) })
}
