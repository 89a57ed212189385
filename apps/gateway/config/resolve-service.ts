import { joinPath, type Report } from './problems.ts'
import { readPem } from './files.ts'
import {
  corsOrigin, headerName, httpMethod, normalizeCidr, pathProblem, routePathProblem, scopeProblem, upstreamOrigin
} from './rules.ts'
import {
  DEFAULT_CACHE, DEFAULT_CIRCUIT_BREAKER, DEFAULT_CORS, DEFAULT_HEALTH_CHECK, DEFAULT_RATE_LIMIT_BY,
  DEFAULT_SERVICE, DEFAULT_UPSTREAM_TLS, HTTP_METHODS,
  type RawIpAccess, type RawRateLimitPolicy, type RawRoute, type RawService
} from './schema.ts'
import { parseDuration, parseSize } from './units.ts'
import type {
  CacheConfig, CircuitBreakerConfig, CorsConfig, HealthCheckConfig, IpAccessConfig, RateLimitPolicy, RouteConfig,
  ServiceConfig, UpstreamTlsConfig
} from '../../../lib/config-types.ts'

// One schema-valid raw service to its resolved form. Semantic problems are reported
// (path relative to `base`); the returned value is only meaningful when none were.

export interface ServiceContext {
  report: Report
  baseDir: string // for relative `upstreamTls.ca` paths
}

export function durationMs (v: string | number, path: string, report: Report, positive: boolean): number {
  let ms: number
  try {
    ms = parseDuration(v)
  } catch (err) {
    report(path, (err as Error).message)
    return 0
  }
  if (positive && ms <= 0) report(path, 'must be greater than 0')
  return ms
}

export function sizeBytes (v: string | number, path: string, report: Report, positive: boolean): number {
  let bytes: number
  try {
    bytes = parseSize(v)
  } catch (err) {
    report(path, (err as Error).message)
    return 0
  }
  if (positive && bytes <= 0) report(path, 'must be greater than 0')
  return bytes
}

export function rateLimitPolicy (raw: RawRateLimitPolicy, path: string, report: Report): RateLimitPolicy {
  return {
    max: raw.max,
    windowMs: durationMs(raw.window, joinPath(path, 'window'), report, true),
    by: raw.by ?? DEFAULT_RATE_LIMIT_BY
  }
}

export function ipAccess (raw: RawIpAccess, path: string, report: Report): IpAccessConfig {
  const list = (key: 'allow' | 'deny'): string[] => (raw[key] ?? []).map((entry, i) => {
    const cidr = normalizeCidr(entry)
    if (cidr === null) report(joinPath(joinPath(path, key), i), 'must be an IP address or CIDR (10.0.0.0/8, 2001:db8::/32)')
    return cidr ?? entry
  })
  return { allow: list('allow'), deny: list('deny') }
}

function scopes (raw: string[] | undefined, path: string, report: Report): string[] {
  return (raw ?? []).map((s, i) => {
    const problem = scopeProblem(s)
    if (problem !== null) report(joinPath(path, i), problem)
    return s
  })
}

function methods (raw: string[], path: string, report: Report): string[] {
  const out: string[] = []
  raw.forEach((m, i) => {
    const method = httpMethod(m)
    if (method === null) report(joinPath(path, i), `must be an HTTP method (${HTTP_METHODS.join(', ')})`)
    else if (!out.includes(method)) out.push(method)
  })
  return out
}

function headerNames (raw: string[], path: string, report: Report): string[] {
  return raw.map((h, i) => {
    const name = headerName(h)
    if (name === null) report(joinPath(path, i), 'must be an HTTP header name')
    return name ?? h
  })
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
  if (raw.scopes !== undefined) out.scopes = scopes(raw.scopes, joinPath(path, 'scopes'), report)
  if (raw.rateLimit !== undefined) {
    out.rateLimit = raw.rateLimit === false ? false : rateLimitPolicy(raw.rateLimit, joinPath(path, 'rateLimit'), report)
  }
  return out
}

function circuitBreaker (raw: RawService['circuitBreaker'], path: string, report: Report): CircuitBreakerConfig | false {
  if (raw === false) return false
  const d = DEFAULT_CIRCUIT_BREAKER
  return {
    timeoutMs: raw?.timeout === undefined ? d.timeoutMs : durationMs(raw.timeout, joinPath(path, 'timeout'), report, true),
    errorThresholdPercentage: raw?.errorThresholdPercentage ?? d.errorThresholdPercentage,
    volumeThreshold: raw?.volumeThreshold ?? d.volumeThreshold,
    resetTimeoutMs: raw?.resetTimeout === undefined ? d.resetTimeoutMs : durationMs(raw.resetTimeout, joinPath(path, 'resetTimeout'), report, true)
  }
}

function healthCheck (raw: NonNullable<RawService['healthCheck']>, path: string, report: Report): HealthCheckConfig {
  const d = DEFAULT_HEALTH_CHECK
  return {
    path: raw.path,
    intervalMs: raw.interval === undefined ? d.intervalMs : durationMs(raw.interval, joinPath(path, 'interval'), report, true),
    unhealthyAfter: raw.unhealthyAfter ?? d.unhealthyAfter,
    healthyAfter: raw.healthyAfter ?? d.healthyAfter
  }
}

function cors (raw: NonNullable<RawService['cors']>, path: string, report: Report): CorsConfig {
  const origins = raw.origins.map((o, i) => {
    const origin = corsOrigin(o)
    if (origin === null) report(joinPath(joinPath(path, 'origins'), i), 'must be * or an origin such as https://app.example.com (no path)')
    return origin ?? o
  })
  const credentials = raw.credentials ?? DEFAULT_CORS.credentials
  // Browsers refuse credentialed responses with a wildcard origin; say so here.
  if (credentials && origins.includes('*')) report(joinPath(path, 'origins'), 'cannot contain * when credentials is true')
  return {
    origins,
    methods: raw.methods === undefined ? [...DEFAULT_CORS.methods] : methods(raw.methods, joinPath(path, 'methods'), report),
    headers: raw.headers === undefined ? [...DEFAULT_CORS.headers] : headerNames(raw.headers, joinPath(path, 'headers'), report),
    credentials,
    maxAgeMs: raw.maxAge === undefined ? DEFAULT_CORS.maxAgeMs : durationMs(raw.maxAge, joinPath(path, 'maxAge'), report, false)
  }
}

function cache (raw: NonNullable<RawService['cache']>, path: string, report: Report): CacheConfig {
  return {
    ttlMs: durationMs(raw.ttl, joinPath(path, 'ttl'), report, true),
    maxEntries: raw.maxEntries ?? DEFAULT_CACHE.maxEntries,
    store: raw.store ?? DEFAULT_CACHE.store,
    vary: raw.vary === undefined ? [] : headerNames(raw.vary, joinPath(path, 'vary'), report),
    perConsumer: raw.perConsumer ?? DEFAULT_CACHE.perConsumer
  }
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
    auth: raw.auth ?? DEFAULT_SERVICE.auth,
    scopes: scopes(raw.scopes, at('scopes'), report),
    rateLimit: raw.rateLimit === undefined ? null : raw.rateLimit === false ? false : rateLimitPolicy(raw.rateLimit, at('rateLimit'), report),
    circuitBreaker: circuitBreaker(raw.circuitBreaker, at('circuitBreaker'), report),
    loadBalancing: raw.loadBalancing ?? DEFAULT_SERVICE.loadBalancing,
    healthCheck: raw.healthCheck === undefined ? null : healthCheck(raw.healthCheck, at('healthCheck'), report),
    retries: raw.retries ?? DEFAULT_SERVICE.retries,
    websocket: raw.websocket ?? DEFAULT_SERVICE.websocket,
    routes: (raw.routes ?? []).map((r, i) => route(r, prefixProblem === null ? raw.prefix : null, joinPath(at('routes'), i), report)),
    ipAccess: raw.ipAccess === undefined ? null : ipAccess(raw.ipAccess, at('ipAccess'), report),
    cors: raw.cors === undefined ? null : cors(raw.cors, at('cors'), report),
    cache: raw.cache === undefined ? null : cache(raw.cache, at('cache'), report),
    upstreamTls: raw.upstreamTls === undefined ? null : upstreamTls(raw.upstreamTls, at('upstreamTls'), ctx),
    source: origin.source
  }
  if (origin.file !== undefined) service.file = origin.file
  return service
}
