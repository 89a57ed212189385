import { readFileSync } from 'node:fs'
import type { GatewayContext } from '../context.ts'
import type { Generation } from '../generation.ts'
import type { LastReload } from '../reload/index.ts'
import { describeService } from './describe-services.ts'
import { UNMATCHED_SERVICE } from '../../../plugins/metrics/index.ts'

// What GET /status and /status.json show (SPEC "Status page"): one snapshot, read from
// the live state (generation, upstream states, stores, tunnels) at request time. Parts
// that other subsystems own come through StatusProviders, so a new one (egress) plugs
// in without this file knowing it; absent = "not configured".

export interface EgressStatus {
  // Destinations with at least one CONNECT tunnel open now.
  destinations: Array<{ host: string, tunnels: number }>
  tunnels: number
}

export interface StatusProviders {
  egress?: () => EgressStatus
}

export interface StatusSources {
  ctx: GatewayContext
  current: () => Generation
  lastReload: () => LastReload | null
  providers: StatusProviders
  startedAt: Date
  version: string
}

export interface UpstreamStatus {
  service: string
  origin: string
  up: boolean
  circuit: 'closed' | 'half-open' | 'open' | 'off'
  // Whole seconds until an open breaker lets a probe through; null unless open.
  secondsToHalfOpen: number | null
  inflight: number
}

export interface ServiceStatus {
  name: string
  prefix: string
  source: string
  policy: ReturnType<typeof describeService>['policy']
  lastMinute: { requests: number, errors5xx: number, share5xx: number }
  websockets: number
}

export interface StatusSnapshot {
  version: string
  startedAt: string
  now: string
  uptimeSeconds: number
  lastReload: { time: string, trigger: string, result: 'success' | 'failure', error: string | null } | null
  services: ServiceStatus[]
  upstreams: UpstreamStatus[]
  rateLimitStore: { kind: 'memory' | 'redis', degraded: boolean } | null
  websockets: { open: number }
  egress: EgressStatus | null
}

// The version of the package this file ships in: the nearest package.json above it
// (the source tree, or /app in the image, where dist/ sits beside it).
export function packageVersion (from: URL = new URL('.', import.meta.url)): string {
  for (let dir = from; ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'gatehouse' && typeof pkg.version === 'string') return pkg.version
    } catch {}
    if (dir.pathname === '/') return 'unknown'
  }
}

async function websocketsByService (ctx: GatewayContext): Promise<Map<string, number>> {
  const { values } = await ctx.metrics.websocketConnections.get()
  return new Map(values.map((v) => [String(v.labels.service), v.value]))
}

export async function buildStatus (src: StatusSources): Promise<StatusSnapshot> {
  const { ctx } = src
  const now = new Date()
  const services = src.current().services
  const recent = ctx.metrics.recentRequests
  recent.retain([...services.map((s) => s.name), UNMATCHED_SERVICE])
  const sockets = await websocketsByService(ctx)
  const last = src.lastReload()
  const store = ctx.rateLimitStore
  return {
    version: src.version,
    startedAt: src.startedAt.toISOString(),
    now: now.toISOString(),
    uptimeSeconds: Math.floor((now.getTime() - src.startedAt.getTime()) / 1000),
    lastReload: last === null
      ? null
      : { time: last.time.toISOString(), trigger: last.trigger, result: last.result, error: last.errors.length === 0 ? null : last.errors.join('\n') },
    services: services.map((svc) => {
      const d = describeService(svc)
      const counts = recent.lastMinute(svc.name)
      return {
        name: d.name,
        prefix: d.prefix,
        source: d.source,
        policy: d.policy,
        lastMinute: { ...counts, share5xx: counts.requests === 0 ? 0 : counts.errors5xx / counts.requests },
        websockets: sockets.get(svc.name) ?? 0,
      }
    }),
    upstreams: services.flatMap((svc) => svc.upstreams.map((u): UpstreamStatus => ({
      service: svc.name,
      origin: u.origin,
      up: u.up,
      circuit: u.breaker === null ? 'off' : u.circuit,
      secondsToHalfOpen: u.breaker !== null && u.circuit === 'open' ? u.breaker.retryAfterSeconds() : null,
      inflight: u.inflight,
    }))),
    rateLimitStore: store === null ? null : { kind: store.kind, degraded: store.degraded === true },
    websockets: { open: ctx.websockets.size },
    egress: src.providers.egress?.() ?? null,
  }
}
