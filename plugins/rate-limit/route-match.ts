import type { RouteConfig } from '../../apps/gateway/config/types.ts'
import { canonicalPath } from '../auth/policy.ts'

// Matching a request against a service's `routes[]` (SPEC: `path` is a public path under
// the prefix, a final `/*` matches one or more further segments, `methods` defaults to
// all, first match wins). The same reading as auth's (plugins/auth/policy.ts), on the
// same canonical path, so a route's limit and its auth rule always cover the same
// requests and neither can be sidestepped by spelling the path differently.
export interface CompiledRoute {
  methods: ReadonlySet<string> | null
  exact: string | null // canonical path, or null for a `/*` route
  base: string | null // for `/*`: what the path must continue with "/<segment>"
}

export { canonicalPath as matchPath }

export function compileRoute (route: RouteConfig): CompiledRoute {
  let methods: Set<string> | null = null
  if (route.methods !== null) {
    methods = new Set(route.methods.map((m) => m.toUpperCase()))
    // A GET handler answers HEAD too: HEAD must not be a way around a GET limit.
    if (methods.has('GET')) methods.add('HEAD')
  }
  const wildcard = route.path.endsWith('/*')
  return {
    methods,
    exact: wildcard ? null : canonicalPath(route.path),
    base: wildcard ? canonicalPath(route.path.slice(0, -2) || '/').replace(/\/$/, '') : null,
  }
}

// `path` is canonicalPath(request.url).
export function routeMatches (route: CompiledRoute, method: string, path: string): boolean {
  if (route.methods !== null && !route.methods.has(method)) return false
  if (route.exact !== null) return path === route.exact
  const base = route.base!
  return path.length > base.length + 1 && path.charCodeAt(base.length) === 47 /* / */ && path.startsWith(base)
}
