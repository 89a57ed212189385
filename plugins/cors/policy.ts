import type { CorsConfig } from './schema.ts'

// Response headers the gateway itself adds, readable by browser code of an allowed origin
// (none of them is CORS-safelisted).
export const GATEWAY_EXPOSED_HEADERS = 'X-Request-Id, X-Cache, Age, Retry-After, X-RateLimit-Limit, ' +
  'X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, RateLimit-Policy'

// Upstream CORS headers are dropped on services with a `cors` policy: the gateway's policy
// is the only one, so an upstream answering `*` cannot widen it.
export const CORS_RESPONSE_HEADERS = [
  'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods',
  'access-control-allow-headers', 'access-control-max-age', 'access-control-expose-headers',
]

export const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers'

// One service's policy, with every header value it answers with built once per generation.
export interface CorsPolicy {
  anyOrigin: boolean // origins: ['*'] (config validation forbids it with credentials)
  origins: Set<string>
  methods: Set<string>
  headers: Set<string> // lower case
  credentials: boolean
  allowMethods: string
  allowHeaders: string
  maxAge: string | null // seconds; null = no Access-Control-Max-Age
}

export function compileCorsPolicy (config: CorsConfig): CorsPolicy {
  return {
    anyOrigin: config.origins.includes('*'),
    origins: new Set(config.origins),
    methods: new Set(config.methods),
    headers: new Set(config.headers.map((h) => h.toLowerCase())),
    credentials: config.credentials,
    allowMethods: config.methods.join(', '),
    allowHeaders: config.headers.join(', '),
    maxAge: config.maxAgeMs > 0 ? String(Math.floor(config.maxAgeMs / 1000)) : null,
  }
}

// Origins are compared exactly as browsers serialise them (scheme://host[:port]); the
// config loader normalised the configured ones the same way.
export function originAllowed (policy: CorsPolicy, origin: string): boolean {
  return policy.anyOrigin || policy.origins.has(origin)
}

// Why a preflight is refused, or null when it passes.
export function preflightProblem (policy: CorsPolicy, origin: string, method: string,
  requestHeaders: string | undefined): string | null {
  if (!originAllowed(policy, origin)) return 'This origin is not allowed'
  if (!policy.methods.has(method.toUpperCase())) return `Method ${method} is not allowed for cross-origin requests`
  if (requestHeaders !== undefined && requestHeaders !== '') {
    for (const part of requestHeaders.split(',')) {
      const name = part.trim().toLowerCase()
      if (name !== '' && !policy.headers.has(name)) return `Header ${name} is not allowed for cross-origin requests`
    }
  }
  return null
}
