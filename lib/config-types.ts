// The resolved configuration: what the loader hands to the app after env expansion,
// validation, unit parsing and defaults. Durations are milliseconds, sizes bytes.
// Every plugin reads this shape, never the raw YAML.

export type AuthMode = 'required' | 'optional' | 'none'
export type RateLimitBy = 'consumer' | 'ip'

export interface RateLimitPolicy {
  max: number
  windowMs: number
  by: RateLimitBy
}

export interface CircuitBreakerConfig {
  timeoutMs: number
  errorThresholdPercentage: number
  volumeThreshold: number
  resetTimeoutMs: number
}

export interface HealthCheckConfig {
  path: string
  intervalMs: number
  unhealthyAfter: number
  healthyAfter: number
}

export interface RouteConfig {
  methods: string[] | null // null = all methods
  path: string // public path, starts with the service prefix; a final "/*" matches one or more segments
  auth?: AuthMode
  scopes?: string[]
  rateLimit?: RateLimitPolicy | false
}

export interface IpAccessConfig {
  allow: string[]
  deny: string[]
}

export interface CorsConfig {
  origins: string[]
  methods: string[]
  headers: string[]
  credentials: boolean
  maxAgeMs: number
}

export interface CacheConfig {
  ttlMs: number
  maxEntries: number
  store: 'memory' | 'redis'
  vary: string[]
  perConsumer: boolean
}

export interface UpstreamTlsConfig {
  ca?: string // PEM contents, already read from the file
  rejectUnauthorized: boolean
}

export interface ServiceConfig {
  name: string
  prefix: string
  upstreams: string[] // origins, e.g. http://127.0.0.1:3001 (no path)
  rewritePrefix: string // "" = strip the prefix
  auth: AuthMode
  scopes: string[]
  rateLimit: RateLimitPolicy | false | null // null = use rateLimit.default (if any)
  circuitBreaker: CircuitBreakerConfig | false
  loadBalancing: 'round-robin' | 'least-connections'
  healthCheck: HealthCheckConfig | null
  retries: number
  websocket: boolean
  routes: RouteConfig[]
  ipAccess: IpAccessConfig | null
  cors: CorsConfig | null
  cache: CacheConfig | null
  upstreamTls: UpstreamTlsConfig | null
  source: 'config' | 'servicesDir' | 'admin'
  file?: string // where it was read from (servicesDir entries)
}

export interface TimeoutsConfig {
  connectMs: number
  upstreamMs: number
  keepAliveMs: number
  headersMs: number
  drainMs: number
}

export interface ServerConfig {
  host: string
  port: number
  trustProxy: false | string[] // CIDRs
  bodyLimit: number
  maxConnections: number
  timeouts: TimeoutsConfig
  tls: { cert: string; key: string } | null // file paths (absolute)
  http2: boolean
  httpRedirect: { port: number } | null
}

export interface JwtConfig {
  secret?: string
  publicKey?: string // PEM contents
  jwksUrl?: string
  issuer?: string
  audience?: string
  algorithms: string[]
  clockToleranceMs: number
  forwardAuthorization: boolean
}

export interface RateLimitConfig {
  store: 'memory' | 'redis'
  redis: { url: string; keyPrefix: string; timeoutMs: number }
  onStoreError: 'local' | 'deny' | 'allow'
  default: RateLimitPolicy | null
}

export interface GatewayConfig {
  file: string | null // absolute path of the main config file, null when built in code
  server: ServerConfig
  logging: { level: string; access: boolean }
  admin: { host: string; port: number; token: string | null }
  servicesDir: string | null // absolute
  auth: { jwt: JwtConfig | null }
  rateLimit: RateLimitConfig | null // null = no rate limiting at all
  ipAccess: IpAccessConfig | null
  compression: { threshold: number; encodings: string[] } | false
  services: ServiceConfig[]
}

// A problem found while loading: printed as `<file>: <path>: <message>`.
export interface ConfigProblem {
  file: string
  path: string
  message: string
}
