import { joinPath, type Report } from '../../../lib/config/kit.ts'
import { resolveCircuitBreaker, resolveHealthCheck } from '../../../plugins/breaker/schema.ts'
import { resolveIpAccess } from '../../../plugins/ip-access/schema.ts'
import { resolveCors } from '../../../plugins/cors/schema.ts'
import { resolveCache } from '../../../plugins/cache/schema.ts'
import { resolveRateLimitOrOff } from '../../../plugins/rate-limit/schema.ts'
import { DEFAULT_AUTH_MODE, resolveScopes } from '../../../plugins/auth/schema.ts'
import { resolveProxyService, resolveRouteCore, resolveUpstreamTls } from '../../../plugins/proxy/schema.ts'
import { DEFAULT_WEBSOCKET } from '../../../plugins/websocket/schema.ts'
import type { RawRoute, RawService } from './schema.ts'
import type { RouteConfig, ServiceConfig } from './types.ts'

// One schema-valid raw service to its resolved form. Semantic problems are reported
// (path relative to `base`); the returned value is only meaningful when none were.

export interface ServiceContext {
  report: Report
  baseDir: string // for relative `upstreamTls.ca` paths
}

function route (raw: RawRoute, prefix: string | null, path: string, report: Report): RouteConfig {
  const out: RouteConfig = resolveRouteCore(raw, prefix, path, report)
  if (raw.auth !== undefined) out.auth = raw.auth
  if (raw.scopes !== undefined) out.scopes = resolveScopes(raw.scopes, joinPath(path, 'scopes'), report)
  if (raw.rateLimit !== undefined) {
    out.rateLimit = resolveRateLimitOrOff(raw.rateLimit, joinPath(path, 'rateLimit'), report)
  }
  return out
}

export function resolveService (raw: RawService, base: string, ctx: ServiceContext,
  origin: { source: ServiceConfig['source'], file?: string }): ServiceConfig {
  const { report } = ctx
  const at = (key: string): string => joinPath(base, key)
  const { prefixValid, ...proxy } = resolveProxyService(raw, base, report)
  const service: ServiceConfig = {
    name: raw.name,
    ...proxy,
    auth: raw.auth ?? DEFAULT_AUTH_MODE,
    scopes: resolveScopes(raw.scopes, at('scopes'), report),
    rateLimit: raw.rateLimit === undefined ? null : resolveRateLimitOrOff(raw.rateLimit, at('rateLimit'), report),
    circuitBreaker: resolveCircuitBreaker(raw.circuitBreaker, at('circuitBreaker'), report),
    loadBalancing: raw.loadBalancing ?? 'round-robin',
    healthCheck: raw.healthCheck === undefined ? null : resolveHealthCheck(raw.healthCheck, at('healthCheck'), report),
    websocket: raw.websocket ?? DEFAULT_WEBSOCKET,
    routes: (raw.routes ?? []).map((r, i) => route(r, prefixValid ? raw.prefix : null, joinPath(at('routes'), i), report)),
    ipAccess: raw.ipAccess === undefined ? null : resolveIpAccess(raw.ipAccess, at('ipAccess'), report),
    cors: raw.cors === undefined ? null : resolveCors(raw.cors, at('cors'), report),
    cache: raw.cache === undefined ? null : resolveCache(raw.cache, at('cache'), report),
    upstreamTls: raw.upstreamTls === undefined ? null : resolveUpstreamTls(raw.upstreamTls, at('upstreamTls'), report, ctx.baseDir),
    source: origin.source
  }
  if (origin.file !== undefined) service.file = origin.file
  return service
}
