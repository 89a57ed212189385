import type { RouteCore } from './config-types.ts'

// Matching a request against a service's `routes[]` (SPEC: `path` is a public path under
// the prefix, a final `/*` matches one or more further segments, `methods` defaults to
// all, first match wins). Auth and rate limits share it, on the same canonical path, so a
// route's limit and its auth rule always cover the same requests and neither can be
// sidestepped by spelling the path differently.
export interface RouteMatcher {
  methods: ReadonlySet<string> | null // null = all
  exact: string | null // canonical path, or null for a `/*` route
  base: string | null // for `/*`: what the path must continue with "/<segment>"
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

export function compileRouteMatcher (route: RouteCore): RouteMatcher {
  let methods: Set<string> | null = null
  if (route.methods !== null) {
    methods = new Set(route.methods.map((m) => m.toUpperCase()))
    // A GET handler answers HEAD too (Fastify, Express): HEAD must not be a way around it.
    if (methods.has('GET')) methods.add('HEAD')
  }
  const wildcard = route.path.endsWith('/*')
  return {
    methods,
    exact: wildcard ? null : canonicalPath(route.path),
    base: wildcard ? canonicalPath(route.path.slice(0, -2) || '/').replace(/\/$/, '') : null,
  }
}

// `path` is canonicalPath(request.url). A `/*` route needs one or more further segments:
// "<base>/x", never "<base>" or "<base>/".
export function routeMatches (route: RouteMatcher, method: string, path: string): boolean {
  if (route.methods !== null && !route.methods.has(method)) return false
  if (route.exact !== null) return path === route.exact
  const base = route.base!
  return path.length > base.length + 1 && path.charCodeAt(base.length) === 47 /* / */ && path.startsWith(base)
}
