import { httpMethods as methods, joinPath, type Report } from '../../../lib/config/kit.ts'
import { resolveCircuitBreaker, resolveHealthCheck } from '../../../plugins/breaker/schema.ts'
import { resolveIpAccess } from '../../../plugins/ip-access/schema.ts'
import { resolveCors } from '../../../plugins/cors/schema.ts'
import { resolveCache } from '../../../plugins/cache/schema.ts'
import { resolveRateLimitOrOff } from '../../../plugins/rate-limit/schema.ts'
import { DEFAULT_AUTH_MODE, resolveScopes } from '../../../plugins/auth/schema.ts'
import { readPem } from '../../../lib/config/files.ts'
import {
  pathProblem, routePathProblem, upstreamOrigin
} from './rules.ts'
import {
  DEFAULT_SERVICE, DEFAULT_UPSTREAM_TLS,
  type RawRoute, type RawService
} from './schema.ts'
import type { RouteConfig, ServiceConfig } from './types.ts'
import type { UpstreamTlsConfig } from '../../../lib/config-types.ts'

// One schema-valid raw service to its resolved form. Semantic problems are reported
// (path relative to `base`); the returned value is only meaningful when none were.

export interface ServiceContext {
  report: Report
  baseDir: string // for relative `upstreamTls.ca` paths
}

function upstreams (raw: string[], path: string, report: Report): string[] {
  const seen = new Map<string, number>()
  return raw.map((u, i) => {
    const r = upstreamOrigin(u)
    if ('error' in r) {
      report(joinPath(path, i), r.error)
      return u
    }
    // Breakers and health are per origin: a repeated origin would share them silently.
    const first = seen.get(r.origin)
    if (first !== undefined) report(joinPath(path, i), `duplicate upstream (same origin as upstreams[${first}])`)
    else seen.set(r.origin, i)
    return r.origin
  })
}

function rewritePrefix (raw: string | undefined, path: string, report: Report): string {
  // "/" would turn /api/users/7 into //7: it means the same as "" (strip the prefix).
  if (raw === undefined || raw === '' || raw === '/') return DEFAULT_SERVICE.rewritePrefix
  const problem = pathProblem(raw, 'path')
  if (problem !== null) report(path, problem)
  return raw
}

function route (raw: RawRoute, prefix: string | null, path: string, report: Report): RouteConfig {
  const problem = routePathProblem(raw.path, prefix)
  if (problem !== null) report(joinPath(path, 'path'), problem)
  const out: RouteConfig = {
    methods: raw.methods === undefined ? null : methods(raw.methods, joinPath(path, 'methods'), report),
    path: raw.path
  }
  if (raw.auth !== undefined) out.auth = raw.auth
  if (raw.scopes !== undefined) out.scopes = resolveScopes(raw.scopes, joinPath(path, 'scopes'), report)
  if (raw.rateLimit !== undefined) {
    out.rateLimit = resolveRateLimitOrOff(raw.rateLimit, joinPath(path, 'rateLimit'), report)
  }
  return out
}

function upstreamTls (raw: NonNullable<RawService['upstreamTls']>, path: string, ctx: ServiceContext): UpstreamTlsConfig {
  const out: UpstreamTlsConfig = { rejectUnauthorized: raw.rejectUnauthorized ?? DEFAULT_UPSTREAM_TLS.rejectUnauthorized }
  if (raw.ca !== undefined) {
    const r = readPem(raw.ca, ctx.baseDir)
    if ('error' in r) ctx.report(joinPath(path, 'ca'), r.error)
    else if (!r.pem.includes('-----BEGIN CERTIFICATE-----')) ctx.report(joinPath(path, 'ca'), 'is not a PEM certificate')
    else out.ca = r.pem
  }
  return out
}

export function resolveService (raw: RawService, base: string, ctx: ServiceContext,
  origin: { source: ServiceConfig['source'], file?: string }): ServiceConfig {
  const { report } = ctx
  const at = (key: string): string => joinPath(base, key)
  const prefixProblem = pathProblem(raw.prefix, 'prefix')
  if (prefixProblem !== null) report(at('prefix'), prefixProblem)
  const service: ServiceConfig = {
    name: raw.name,
    prefix: raw.prefix,
    upstreams: upstreams(raw.upstreams, at('upstreams'), report),
    rewritePrefix: rewritePrefix(raw.rewritePrefix, at('rewritePrefix'), report),
    auth: raw.auth ?? DEFAULT_AUTH_MODE,
    scopes: resolveScopes(raw.scopes, at('scopes'), report),
    rateLimit: raw.rateLimit === undefined ? null : resolveRateLimitOrOff(raw.rateLimit, at('rateLimit'), report),
    circuitBreaker: resolveCircuitBreaker(raw.circuitBreaker, at('circuitBreaker'), report),
    loadBalancing: raw.loadBalancing ?? 'round-robin',
    healthCheck: raw.healthCheck === undefined ? null : resolveHealthCheck(raw.healthCheck, at('healthCheck'), report),
    retries: raw.retries ?? DEFAULT_SERVICE.retries,
    websocket: raw.websocket ?? DEFAULT_SERVICE.websocket,
    routes: (raw.routes ?? []).map((r, i) => route(r, prefixProblem === null ? raw.prefix : null, joinPath(at('routes'), i), report)),
    ipAccess: raw.ipAccess === undefined ? null : resolveIpAccess(raw.ipAccess, at('ipAccess'), report),
    cors: raw.cors === undefined ? null : resolveCors(raw.cors, at('cors'), report),
    cache: raw.cache === undefined ? null : resolveCache(raw.cache, at('cache'), report),
    upstreamTls: raw.upstreamTls === undefined ? null : upstreamTls(raw.upstreamTls, at('upstreamTls'), ctx),
    source: origin.source
  }
  if (origin.file !== undefined) service.file = origin.file
  return service
}
