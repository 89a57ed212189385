// The resolved configuration: what the loader hands to the app after env expansion,
// validation, unit parsing and defaults (durations in milliseconds, sizes in bytes),
// composed from the parts each plugin owns.
import type { ConfigProblem, RouteCore, ServiceCore, UpstreamTlsConfig } from '../../../lib/config-types.ts'
import type { AuthMode, AuthRouteFields, JwtConfig } from '../../../plugins/auth/schema.ts'
import type { RateLimitBy, RateLimitConfig, RateLimitPolicy, RateLimitRouteFields } from '../../../plugins/rate-limit/schema.ts'
import type { CircuitBreakerConfig, HealthCheckConfig, LoadBalancing } from '../../../plugins/breaker/schema.ts'
import type { IpAccessConfig } from '../../../plugins/ip-access/schema.ts'
import type { CorsConfig } from '../../../plugins/cors/schema.ts'
import type { CacheConfig } from '../../../plugins/cache/schema.ts'
import type { CompressionConfig } from '../../../plugins/compression/schema.ts'
import type { TracingConfig } from '../../../plugins/tracing/schema.ts'
import type { TlsConfig } from '../tls/protocol-policy.ts'
import type { RegistryConfig } from '../../../plugins/registry/schema.ts'

import type { EgressConfig } from '../../../plugins/egress/schema.ts'

export type {
  AuthMode, CacheConfig, CircuitBreakerConfig, CompressionConfig, ConfigProblem, CorsConfig, EgressConfig, HealthCheckConfig,
  IpAccessConfig, JwtConfig, RateLimitBy, RateLimitConfig, RateLimitPolicy, RegistryConfig, UpstreamTlsConfig,
}

export type RouteConfig = RouteCore & AuthRouteFields & RateLimitRouteFields

export interface ServiceConfig extends ServiceCore {
  auth: AuthMode
  scopes: string[]
  rateLimit: RateLimitPolicy | false | null // null = use rateLimit.default (if any)
  circuitBreaker: CircuitBreakerConfig | false
  loadBalancing: LoadBalancing
  healthCheck: HealthCheckConfig | null
  routes: RouteConfig[]
  ipAccess: IpAccessConfig | null
  cors: CorsConfig | null
  cache: CacheConfig | null
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
  tls: TlsConfig | null // file paths (absolute), protocol policy
  http2: boolean
  httpRedirect: { port: number } | null
}

export interface GatewayConfig {
  file: string | null // absolute path of the main config file, null when built in code
  server: ServerConfig
  logging: { level: string, access: boolean }
  admin: { host: string, port: number, token: string | null }
  servicesDir: string | null // absolute
  auth: { jwt: JwtConfig | null }
  rateLimit: RateLimitConfig | null // null = no rate limiting at all
  ipAccess: IpAccessConfig | null
  compression: CompressionConfig
  tracing: TracingConfig | null // null = no tracing
  registry: RegistryConfig | null // null = admin services go to servicesDir (or memory)
  egress: EgressConfig | null // null = no egress listener
  services: ServiceConfig[]
}
