import type { AuthMode, RouteConfig, ServiceConfig } from '../../apps/gateway/config/types.ts'
import { insufficientScopeChallenge } from './challenge.ts'

// What one request must show: built once per generation, never per request.
export interface Rule {
  mode: AuthMode
  scopes: string[] // all required
  // WWW-Authenticate of this rule's 403, precomputed.
  scopeChallenge: string
}

interface CompiledRoute {
  methods: Set<string> | null // null = all
  exact: string | null // canonical path, or null for a `/*` route
  base: string | null // for `/*`: what the path must continue with "/<segment>"
  rule: Rule
}

export interface ServicePolicy {
  base: Rule
  routes: CompiledRoute[] | null // null = the service rule applies to every request
}

function rule (mode: AuthMode, scopes: string[]): Rule {
  return { mode, scopes, scopeChallenge: insufficientScopeChallenge(scopes) }
}

// The form the upstream most likely resolves a path to, so a route's policy cannot be
// sidestepped by spelling: unreserved escapes decoded (%2F and %5C stay encoded, as the
// proxy forwards them), `;params` dropped (servlet containers ignore them), repeated
// slashes merged and one trailing slash ignored (`POST /api/users/` reaches the same
// handler as `POST /api/users` on most frameworks).
export function canonicalPath (url: string): string {
  const q = url.indexOf('?')
  let p = q === -1 ? url : url.slice(0, q)
  if (p.indexOf('%') !== -1) {
    try {
      p = decodeURIComponent(p.replace(/%(2f|5c)/gi, '%25$1'))
    } catch {
      // Not UTF-8 once decoded: match on the path as it came.
    }
  }
  if (p.indexOf(';') !== -1) p = p.replace(/;[^/]*/g, '')
  if (p.indexOf('//') !== -1) p = p.replace(/\/{2,}/g, '/')
  if (p.length > 1 && p.charCodeAt(p.length - 1) === 47 /* / */) p = p.slice(0, -1)
  return p
}

function compileRoute (route: RouteConfig, service: ServiceConfig): CompiledRoute {
  let methods: Set<string> | null = null
  if (route.methods !== null) {
    methods = new Set(route.methods.map((m) => m.toUpperCase()))
    // A GET handler answers HEAD too (Fastify, Express): the same policy covers it.
    if (methods.has('GET')) methods.add('HEAD')
  }
  const wildcard = route.path.endsWith('/*')
  return {
    methods,
    exact: wildcard ? null : canonicalPath(route.path),
    base: wildcard ? canonicalPath(route.path.slice(0, -2) || '/').replace(/\/$/, '') : null,
    rule: rule(route.auth ?? service.auth, route.scopes ?? service.scopes),
  }
}

// Null when the service needs nothing from auth: no token check, no route to match.
export function compilePolicy (service: ServiceConfig): ServicePolicy | null {
  const routes = service.routes
  // Routes that set neither auth nor scopes resolve to the service rule; trailing ones
  // can go (earlier ones stay: first match wins, they shadow what follows).
  let last = routes.length
  while (last > 0 && routes[last - 1]!.auth === undefined && routes[last - 1]!.scopes === undefined) last--
  const base = rule(service.auth, service.scopes)
  if (last === 0) return base.mode === 'none' ? null : { base, routes: null }
  return { base, routes: routes.slice(0, last).map((r) => compileRoute(r, service)) }
}

export function ruleFor (policy: ServicePolicy, method: string, url: string): Rule {
  const routes = policy.routes
  if (routes === null) return policy.base
  const path = canonicalPath(url)
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!
    if (r.methods !== null && !r.methods.has(method)) continue
    if (r.exact !== null) {
      if (path === r.exact) return r.rule
    } else {
      const base = r.base!
      // One or more further segments: "<base>/x", never "<base>" or "<base>/".
      if (path.length > base.length + 1 && path.charCodeAt(base.length) === 47 && path.startsWith(base)) return r.rule
    }
  }
  return policy.base
}
