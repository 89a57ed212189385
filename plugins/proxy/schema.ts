import { Type, type Static } from '@sinclair/typebox'
import type { RouteCore, UpstreamTlsConfig } from '../../lib/config-types.ts'
import { NonEmpty, Strict, httpMethods, joinPath, withDefaults, type Defaulted, type Report } from '../../lib/config/kit.ts'
import { readPem } from '../../lib/config/files.ts'

// What the proxy owns of a service: where it is mounted (`prefix`, `rewritePrefix`),
// where it goes (`upstreams`, `upstreamTls`), how often a failed connect is retried,
// and the part of a `routes[]` entry that says which requests it matches.

const Upstream = Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', errorMessage: 'must be an http(s) URL' })

export const UpstreamTlsSchema = Strict({
  ca: Type.Optional(NonEmpty),
  rejectUnauthorized: Type.Optional(Type.Boolean({ default: true })),
})

// Spread into the service schema (apps/gateway/config composes it).
export const ProxyServiceProps = {
  prefix: NonEmpty,
  upstreams: Type.Array(Upstream, { minItems: 1, errorMessage: 'must be a non-empty list of http(s) URLs' }),
  rewritePrefix: Type.Optional(Type.String({ default: '' })),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 5, errorMessage: 'must be an integer from 0 to 5', default: 1 })),
  upstreamTls: Type.Optional(UpstreamTlsSchema),
}
const ProxyServiceSchema = Type.Object(ProxyServiceProps)

export const RouteCoreProps = {
  path: NonEmpty,
  methods: Type.Optional(Type.Array(NonEmpty, { minItems: 1, errorMessage: 'must be a non-empty list of HTTP methods' })),
}

type RawProxyService = Static<typeof ProxyServiceSchema>
type RawUpstreamTls = Static<typeof UpstreamTlsSchema>
type RawRouteCore = Static<ReturnType<typeof Type.Object<typeof RouteCoreProps>>>

export interface ProxyServiceConfig {
  prefix: string
  upstreams: string[]
  rewritePrefix: string
  retries: number
  upstreamTls: UpstreamTlsConfig | null
}

// Characters a prefix may hold: RFC 3986 pchar minus "%" (an escape would let two
// spellings name one path) and "*" (the route wildcard).
const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()+,;=:@/]/

export function pathProblem (p: string, what: 'prefix' | 'path'): string | null {
  if (!p.startsWith('/')) return 'must start with /'
  // The prefix "/" is the catch-all: it gets what no other prefix matches (SPEC).
  if (p === '/') return what === 'prefix' ? null : 'must not be / alone'
  if (p.endsWith('/')) return `must not end with / (write ${p.replace(/\/+$/, '') || '/api/users'})`
  for (const ch of p) if (!PATH_CHAR.test(ch)) return `must not contain ${JSON.stringify(ch)}`
  const segments = p.slice(1).split('/')
  if (segments.includes('')) return 'must not contain empty segments (//)'
  if (segments.some(s => s === '.' || s === '..')) return 'must not contain . or .. segments'
  return null
}

// Route paths are public paths under the service prefix; only a final `/*` is special.
// Under the catch-all prefix "/", `/` (the root alone) and `/*` (everything else) are too.
export function routePathProblem (p: string, prefix: string | null): string | null {
  const base = p.endsWith('/*') ? p.slice(0, -2) || '/' : p
  if (base.includes('*')) return 'may only use * as a final /* segment'
  if (base !== '/') {
    const problem = pathProblem(base, 'path')
    if (problem !== null) return problem
  }
  if (prefix !== null && prefix !== '/' && base !== prefix && !base.startsWith(prefix + '/')) return `must start with the service prefix ${prefix}`
  return null
}

export function upstreamOrigin (u: string): { origin: string } | { error: string } {
  let url: URL
  try {
    url = new URL(u)
  } catch {
    return { error: 'must be an http(s) URL' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: 'must be an http(s) URL' }
  if (url.username !== '' || url.password !== '') return { error: 'must not contain credentials' }
  if (u.includes('?') || u.includes('#')) return { error: 'must not contain a query or fragment' }
  if (url.pathname !== '/') return { error: `must be an origin without a path (got ${url.pathname}; use rewritePrefix)` }
  return { origin: url.origin }
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

function rewritePrefix (raw: string, path: string, report: Report): string {
  // "/" would turn /api/users/7 into //7: it means the same as "" (strip the prefix).
  if (raw === '' || raw === '/') return ''
  const problem = pathProblem(raw, 'path')
  if (problem !== null) report(path, problem)
  return raw
}

export function resolveUpstreamTls (input: RawUpstreamTls, path: string, report: Report, baseDir: string): UpstreamTlsConfig {
  const raw = withDefaults(UpstreamTlsSchema, input) as Defaulted<RawUpstreamTls, 'rejectUnauthorized'>
  const out: UpstreamTlsConfig = { rejectUnauthorized: raw.rejectUnauthorized }
  if (raw.ca !== undefined) {
    const r = readPem(raw.ca, baseDir)
    if ('error' in r) report(joinPath(path, 'ca'), r.error)
    else if (!r.pem.includes('-----BEGIN CERTIFICATE-----')) report(joinPath(path, 'ca'), 'is not a PEM certificate')
    else out.ca = r.pem
  }
  return out
}

// `base`: the service's key path. `prefixValid` tells the routes whether they can be
// checked against the prefix.
// upstreamTls is resolved apart (resolveUpstreamTls), in the service's key order.
export function resolveProxyService (input: RawProxyService, base: string, report: Report): Omit<ProxyServiceConfig, 'upstreamTls'> & { prefixValid: boolean } {
  const raw = withDefaults(ProxyServiceSchema, input) as Defaulted<RawProxyService, 'rewritePrefix' | 'retries'>
  const at = (key: string): string => joinPath(base, key)
  const prefixProblem = pathProblem(raw.prefix, 'prefix')
  if (prefixProblem !== null) report(at('prefix'), prefixProblem)
  return {
    prefix: raw.prefix,
    upstreams: upstreams(raw.upstreams, at('upstreams'), report),
    rewritePrefix: rewritePrefix(raw.rewritePrefix, at('rewritePrefix'), report),
    retries: raw.retries,
    prefixValid: prefixProblem === null,
  }
}

export function resolveRouteCore (raw: RawRouteCore, prefix: string | null, path: string, report: Report): RouteCore {
  const problem = routePathProblem(raw.path, prefix)
  if (problem !== null) report(joinPath(path, 'path'), problem)
  return { methods: raw.methods === undefined ? null : httpMethods(raw.methods, joinPath(path, 'methods'), report), path: raw.path }
}
