import type { AuthMode, AuthRouteFields, AuthServiceFields } from './schema.ts'

type AuthService = ServiceCore & AuthServiceFields
import type { RouteCore, ServiceCore } from '../../lib/config-types.ts'
import { insufficientScopeChallenge } from './challenge.ts'
import { canonicalPath, compileRouteMatcher, routeMatches, type RouteMatcher } from '../../lib/route-match.ts'

// What one request must show: built once per generation, never per request.
export interface Rule {
  mode: AuthMode
  scopes: string[] // all required
  // WWW-Authenticate of this rule's 403, precomputed.
  scopeChallenge: string
}

interface CompiledRoute {
  match: RouteMatcher
  rule: Rule
}

export interface ServicePolicy {
  base: Rule
  routes: CompiledRoute[] | null // null = the service rule applies to every request
}

function rule (mode: AuthMode, scopes: string[]): Rule {
  return { mode, scopes, scopeChallenge: insufficientScopeChallenge(scopes) }
}

function compileRoute (route: RouteCore & AuthRouteFields, service: AuthService): CompiledRoute {
  return { match: compileRouteMatcher(route), rule: rule(route.auth ?? service.auth, route.scopes ?? service.scopes) }
}

// Null when the service needs nothing from auth: no token check, no route to match.
export function compilePolicy (service: AuthService): ServicePolicy | null {
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
    if (routeMatches(r.match, method, path)) return r.rule
  }
  return policy.base
}
