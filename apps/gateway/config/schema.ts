import { Type, type Static, type TLiteral, type TProperties, type TUnion } from '@sinclair/typebox'
import { DURATION_HINT, DURATION_PATTERN, SIZE_HINT, SIZE_PATTERN } from './units.ts'
import type {
  CacheConfig, CircuitBreakerConfig, CorsConfig, HealthCheckConfig, RateLimitConfig, ServerConfig,
  TimeoutsConfig
} from '../../../lib/config-types.ts'

// The raw YAML, key for key as in SPEC.md "Configuration". Every object is closed
// (additionalProperties: false): a typo such as `rateLimt` must fail, not silently
// drop a limit. Syntax (patterns, ranges) lives here; rules that need several keys
// or the file system live in resolve.ts. `errorMessage` replaces TypeBox's generic
// text for that node (see validate.ts).

// ---- defaults (SPEC.md), in resolved units: milliseconds and bytes ----------------

export const DEFAULT_SERVER = {
  host: '0.0.0.0',
  port: 8080,
  trustProxy: false,
  bodyLimit: 1024 * 1024,
  maxConnections: 10_000,
  http2: false
} as const satisfies Partial<ServerConfig>

export const DEFAULT_TIMEOUTS = {
  connectMs: 2_000,
  upstreamMs: 30_000,
  keepAliveMs: 5_000,
  headersMs: 10_000,
  drainMs: 30_000
} as const satisfies TimeoutsConfig

export const DEFAULT_LOGGING = { level: 'info', access: true } as const

export const DEFAULT_ADMIN = { host: '127.0.0.1', port: 8081 } as const

export const DEFAULT_JWT = {
  algorithms: ['HS256'], // with `secret`; see resolve.ts for publicKey/jwksUrl
  clockToleranceMs: 5_000,
  forwardAuthorization: true
} as const

export const DEFAULT_RATE_LIMIT = {
  store: 'memory',
  redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'gatehouse:rl:', timeoutMs: 50 },
  onStoreError: 'local'
} as const satisfies Omit<RateLimitConfig, 'default'>

export const DEFAULT_RATE_LIMIT_BY = 'consumer'

export const DEFAULT_SERVICE = {
  rewritePrefix: '',
  auth: 'required',
  loadBalancing: 'round-robin',
  retries: 1,
  websocket: false
} as const

export const DEFAULT_CIRCUIT_BREAKER = {
  timeoutMs: 10_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  resetTimeoutMs: 10_000
} as const satisfies CircuitBreakerConfig

export const DEFAULT_HEALTH_CHECK = {
  intervalMs: 5_000,
  unhealthyAfter: 2,
  healthyAfter: 1
} as const satisfies Omit<HealthCheckConfig, 'path'>

// Edge options are off unless configured; these fill the keys a user leaves out.
export const DEFAULT_COMPRESSION = { threshold: 1024, encodings: ['br', 'gzip'] } as const

export const DEFAULT_CORS = {
  methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
  headers: ['authorization', 'content-type'],
  credentials: false,
  maxAgeMs: 0 // 0 = no Access-Control-Max-Age header (browsers then cache 5 s)
} as const satisfies Omit<CorsConfig, 'origins'>

export const DEFAULT_CACHE = {
  maxEntries: 10_000,
  store: 'memory',
  vary: [],
  perConsumer: false
} as const satisfies Omit<CacheConfig, 'ttlMs'>

export const DEFAULT_UPSTREAM_TLS = { rejectUnauthorized: true } as const

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const
export const JWT_ALGORITHMS = [
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512', 'EdDSA'
] as const
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export const COMPRESSION_ENCODINGS = ['br', 'gzip', 'deflate'] as const

export const TRUST_PROXY_HINT = 'trustProxy takes a list of CIDRs of your own proxies (never true or a hop count)'

// ---- building blocks ---------------------------------------------------------------

function Strict<T extends TProperties> (properties: T) {
  return Type.Object(properties, { additionalProperties: false })
}

function OneOf<const T extends readonly string[]> (values: T): TUnion<Array<TLiteral<T[number]>>> {
  return Type.Union(values.map(v => Type.Literal(v)))
}

const NonEmpty = Type.String({ minLength: 1, errorMessage: 'must be a non-empty string' })
const List = Type.Array(NonEmpty)
const Port = Type.Integer({ minimum: 0, maximum: 65535, errorMessage: 'must be a port number (0-65535)' })
const Duration = Type.Union([
  Type.Number({ minimum: 0 }),
  Type.String({ pattern: DURATION_PATTERN })
], { errorMessage: DURATION_HINT })
const Size = Type.Union([
  Type.Integer({ minimum: 0 }),
  Type.String({ pattern: SIZE_PATTERN })
], { errorMessage: SIZE_HINT })
const PositiveInt = Type.Integer({ minimum: 1, errorMessage: 'must be a positive integer' })
const Upstream = Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', errorMessage: 'must be an http(s) URL' })
const AuthMode = OneOf(['required', 'optional', 'none'])

export const RateLimitPolicySchema = Strict({
  max: PositiveInt,
  window: Duration,
  by: Type.Optional(OneOf(['consumer', 'ip']))
})

const RateLimitOrOff = Type.Union([Type.Literal(false), RateLimitPolicySchema])

export const IpAccessSchema = Strict({
  allow: Type.Optional(List),
  deny: Type.Optional(List)
})

// ---- services ----------------------------------------------------------------------

export const RouteSchema = Strict({
  path: NonEmpty,
  methods: Type.Optional(Type.Array(NonEmpty, { minItems: 1, errorMessage: 'must be a non-empty list of HTTP methods' })),
  auth: Type.Optional(AuthMode),
  scopes: Type.Optional(List),
  rateLimit: Type.Optional(RateLimitOrOff)
})

export const CircuitBreakerSchema = Strict({
  timeout: Type.Optional(Duration),
  errorThresholdPercentage: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, errorMessage: 'must be a percentage (above 0, at most 100)' })),
  volumeThreshold: Type.Optional(PositiveInt),
  resetTimeout: Type.Optional(Duration)
})

export const HealthCheckSchema = Strict({
  path: Type.String({ pattern: '^/', errorMessage: 'must start with /' }),
  interval: Type.Optional(Duration),
  unhealthyAfter: Type.Optional(PositiveInt),
  healthyAfter: Type.Optional(PositiveInt)
})

export const CorsSchema = Strict({
  origins: Type.Array(NonEmpty, { minItems: 1, errorMessage: 'must be a non-empty list of origins (or ["*"])' }),
  methods: Type.Optional(List),
  headers: Type.Optional(List),
  credentials: Type.Optional(Type.Boolean()),
  maxAge: Type.Optional(Duration)
})

export const CacheSchema = Strict({
  ttl: Duration,
  maxEntries: Type.Optional(PositiveInt),
  store: Type.Optional(OneOf(['memory', 'redis'])),
  vary: Type.Optional(List),
  perConsumer: Type.Optional(Type.Boolean())
})

export const UpstreamTlsSchema = Strict({
  ca: Type.Optional(NonEmpty),
  rejectUnauthorized: Type.Optional(Type.Boolean())
})

export const ServiceSchema = Strict({
  name: Type.String({ pattern: '^[a-z0-9-]+$', errorMessage: 'must match [a-z0-9-]+ (lower-case letters, digits, -)' }),
  prefix: NonEmpty,
  upstreams: Type.Array(Upstream, { minItems: 1, errorMessage: 'must be a non-empty list of http(s) URLs' }),
  rewritePrefix: Type.Optional(Type.String()),
  auth: Type.Optional(AuthMode),
  scopes: Type.Optional(List),
  rateLimit: Type.Optional(RateLimitOrOff),
  circuitBreaker: Type.Optional(Type.Union([Type.Literal(false), CircuitBreakerSchema])),
  loadBalancing: Type.Optional(OneOf(['round-robin', 'least-connections'])),
  healthCheck: Type.Optional(HealthCheckSchema),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 5, errorMessage: 'must be an integer from 0 to 5' })),
  websocket: Type.Optional(Type.Boolean()),
  routes: Type.Optional(Type.Array(RouteSchema)),
  upstreamTls: Type.Optional(UpstreamTlsSchema),
  ipAccess: Type.Optional(IpAccessSchema),
  cors: Type.Optional(CorsSchema),
  cache: Type.Optional(CacheSchema)
})

// ---- top level ---------------------------------------------------------------------

export const ServerSchema = Strict({
  host: Type.Optional(NonEmpty),
  port: Type.Optional(Port),
  trustProxy: Type.Optional(Type.Union([Type.Literal(false), List], { errorMessage: TRUST_PROXY_HINT })),
  bodyLimit: Type.Optional(Size),
  maxConnections: Type.Optional(PositiveInt),
  timeouts: Type.Optional(Strict({
    connect: Type.Optional(Duration),
    upstream: Type.Optional(Duration),
    keepAlive: Type.Optional(Duration),
    headers: Type.Optional(Duration),
    drain: Type.Optional(Duration)
  })),
  tls: Type.Optional(Strict({ cert: NonEmpty, key: NonEmpty })),
  http2: Type.Optional(Type.Boolean()),
  httpRedirect: Type.Optional(Strict({ port: Port }))
})

export const LoggingSchema = Strict({
  level: Type.Optional(OneOf(LOG_LEVELS)),
  access: Type.Optional(Type.Boolean())
})

export const AdminSchema = Strict({
  host: Type.Optional(NonEmpty),
  port: Type.Optional(Port),
  token: Type.Optional(Type.String()) // "" (an unset ${VAR}) = admin API off
})

export const JwtSchema = Strict({
  secret: Type.Optional(Type.String()), // emptiness reported in resolve.ts, with a hint
  publicKey: Type.Optional(NonEmpty),
  jwksUrl: Type.Optional(NonEmpty),
  issuer: Type.Optional(NonEmpty),
  audience: Type.Optional(NonEmpty),
  algorithms: Type.Optional(Type.Array(NonEmpty, { minItems: 1, errorMessage: 'must be a non-empty list of JWT algorithms' })),
  clockTolerance: Type.Optional(Duration),
  forwardAuthorization: Type.Optional(Type.Boolean())
})

export const AuthSchema = Strict({
  jwt: Type.Optional(JwtSchema)
})

export const RateLimitSchema = Strict({
  store: Type.Optional(OneOf(['memory', 'redis'])),
  redis: Type.Optional(Strict({
    url: Type.Optional(NonEmpty),
    keyPrefix: Type.Optional(Type.String()),
    timeout: Type.Optional(Duration)
  })),
  onStoreError: Type.Optional(OneOf(['local', 'deny', 'allow'])),
  default: Type.Optional(RateLimitPolicySchema)
})

export const CompressionSchema = Type.Union([
  Type.Boolean(),
  Strict({
    threshold: Type.Optional(Size),
    encodings: Type.Optional(Type.Array(OneOf(COMPRESSION_ENCODINGS), { minItems: 1 }))
  })
])

export const GatewaySchema = Strict({
  server: Type.Optional(ServerSchema),
  logging: Type.Optional(LoggingSchema),
  admin: Type.Optional(AdminSchema),
  servicesDir: Type.Optional(NonEmpty),
  auth: Type.Optional(AuthSchema),
  rateLimit: Type.Optional(RateLimitSchema),
  ipAccess: Type.Optional(IpAccessSchema),
  compression: Type.Optional(CompressionSchema),
  services: Type.Optional(Type.Array(ServiceSchema))
})

export type RawGateway = Static<typeof GatewaySchema>
export type RawService = Static<typeof ServiceSchema>
export type RawRoute = Static<typeof RouteSchema>
export type RawRateLimitPolicy = Static<typeof RateLimitPolicySchema>
export type RawIpAccess = Static<typeof IpAccessSchema>
