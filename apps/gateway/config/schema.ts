import { Type, type Static } from '@sinclair/typebox'
import { Duration as DurationOf, List, NonEmpty, OneOf, Port, PositiveInteger, Size as SizeOf, Strict } from '../../../lib/config/kit.ts'
import { RateLimitOrOffSchema, RateLimitSchema } from '../../../plugins/rate-limit/schema.ts'
import { AuthSchema, ServiceAuthSchema } from '../../../plugins/auth/schema.ts'
import { CircuitBreakerSchema, HealthCheckSchema, LoadBalancingSchema } from '../../../plugins/breaker/schema.ts'
import { IpAccessSchema } from '../../../plugins/ip-access/schema.ts'
import { CorsSchema } from '../../../plugins/cors/schema.ts'
import { CacheSchema } from '../../../plugins/cache/schema.ts'
import { CompressionSchema } from '../../../plugins/compression/schema.ts'
import { TLS_MIN_VERSIONS } from '../tls/protocol-policy.ts'
import { ProxyServiceProps, RouteCoreProps } from '../../../plugins/proxy/schema.ts'
import { WebSocketServiceProps } from '../../../plugins/websocket/schema.ts'
import { TracingSchema } from '../../../plugins/tracing/schema.ts'
import { RegistrySchema } from '../../../plugins/registry/schema.ts'
import { EgressSchema } from '../../../plugins/egress/schema.ts'

// The raw YAML, key for key as in SPEC.md "Configuration". Every object is closed
// (additionalProperties: false): a typo such as `rateLimt` must fail, not silently
// drop a limit. Syntax (patterns, ranges) lives here; rules that need several keys
// or the file system live in resolve.ts. `errorMessage` replaces TypeBox's generic
// text for that node (see validate.ts).

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export const TRUST_PROXY_HINT = 'trustProxy takes a list of CIDRs of your own proxies (never true or a hop count)'

// ---- building blocks ---------------------------------------------------------------

// ---- services ----------------------------------------------------------------------

export const RouteSchema = Strict({
  ...RouteCoreProps,
  ...ServiceAuthSchema,
  rateLimit: Type.Optional(RateLimitOrOffSchema)
})

// Keys in SPEC's order (unknown-key hints list them so).
export const ServiceSchema = Strict({
  name: Type.String({ pattern: '^[a-z0-9-]+$', errorMessage: 'must match [a-z0-9-]+ (lower-case letters, digits, -)' }),
  prefix: ProxyServiceProps.prefix,
  upstreams: ProxyServiceProps.upstreams,
  rewritePrefix: ProxyServiceProps.rewritePrefix,
  ...ServiceAuthSchema,
  rateLimit: Type.Optional(RateLimitOrOffSchema),
  circuitBreaker: Type.Optional(CircuitBreakerSchema),
  loadBalancing: Type.Optional(LoadBalancingSchema),
  healthCheck: Type.Optional(HealthCheckSchema),
  retries: ProxyServiceProps.retries,
  ...WebSocketServiceProps,
  routes: Type.Optional(Type.Array(RouteSchema)),
  upstreamTls: ProxyServiceProps.upstreamTls,
  ipAccess: Type.Optional(IpAccessSchema),
  cors: Type.Optional(CorsSchema),
  cache: Type.Optional(CacheSchema),
})

// ---- top level ---------------------------------------------------------------------

export const ServerSchema = Strict({
  host: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a non-empty string', default: '0.0.0.0' })),
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, errorMessage: 'must be a port number (0-65535)', default: 8080 })),
  trustProxy: Type.Optional(Type.Union([Type.Literal(false), List], { errorMessage: TRUST_PROXY_HINT, default: false })),
  bodyLimit: Type.Optional(SizeOf({ default: '1mb' })),
  maxConnections: Type.Optional(PositiveInteger({ default: 10_000 })),
  timeouts: Type.Optional(Strict({
    connect: Type.Optional(DurationOf({ default: '2s' })),
    upstream: Type.Optional(DurationOf({ default: '30s' })),
    keepAlive: Type.Optional(DurationOf({ default: '5s' })),
    headers: Type.Optional(DurationOf({ default: '10s' })),
    drain: Type.Optional(DurationOf({ default: '30s' })),
  }, { default: {} })),
  tls: Type.Optional(Strict({
    cert: NonEmpty,
    key: NonEmpty,
    minVersion: Type.Optional(OneOf(TLS_MIN_VERSIONS)),
    ciphers: Type.Optional(NonEmpty),
  })),
  http2: Type.Optional(Type.Boolean({ default: false })),
  httpRedirect: Type.Optional(Strict({ port: Port })),
})

export const LoggingSchema = Strict({
  level: Type.Optional(OneOf(LOG_LEVELS, { default: 'info' })),
  access: Type.Optional(Type.Boolean({ default: true })),
})

export const AdminSchema = Strict({
  host: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a non-empty string', default: '127.0.0.1' })),
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, errorMessage: 'must be a port number (0-65535)', default: 8081 })),
  token: Type.Optional(Type.String()), // "" (an unset ${VAR}) = admin API off
})

export const GatewaySchema = Strict({
  server: Type.Optional(ServerSchema),
  logging: Type.Optional(LoggingSchema),
  admin: Type.Optional(AdminSchema),
  servicesDir: Type.Optional(NonEmpty),
  auth: Type.Optional(AuthSchema),
  rateLimit: Type.Optional(RateLimitSchema),
  ipAccess: Type.Optional(IpAccessSchema),
  compression: Type.Optional(CompressionSchema),
  tracing: Type.Optional(TracingSchema),
  registry: Type.Optional(RegistrySchema),
  egress: Type.Optional(EgressSchema),
  services: Type.Optional(Type.Array(ServiceSchema))
})

export type RawGateway = Static<typeof GatewaySchema>
export type RawService = Static<typeof ServiceSchema>
export type RawRoute = Static<typeof RouteSchema>
