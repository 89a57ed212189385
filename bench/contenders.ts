import { createSigner } from 'fast-jwt'

// What is measured: each contender is one process in front of (or being) the backend,
// reached at `url` with `headers`. Gatehouse variants are plain SPEC.md config, so each
// policy takes part as soon as its plugin reads the key.

export const PREFIX = '/api/bench'
export const LOAD_PATH = `${PREFIX}/hello`
export const JWT_SECRET = 'gatehouse-bench-secret-0123456789abcdef0123456789'
export const JWT_ISSUER = 'gatehouse-bench'
export const JWT_AUDIENCE = 'gatehouse-bench'
export const BENCH_SCOPE = 'bench:read'
// A budget the bench can never reach (~1.7M req/s sustained for the whole window).
export const NEVER_HIT = { max: 100_000_000, window: '1m', by: 'consumer' }
export const BASELINE = 'bare-proxy'

export type ContenderName = 'direct' | 'bare-proxy' | 'fast-gateway' | 'gatehouse-none' | 'gatehouse-full' | 'gatehouse-redis'
export type GatehouseVariant = 'none' | 'full' | 'redis'

export const CONTENDER_ORDER: ContenderName[] = ['direct', 'bare-proxy', 'fast-gateway', 'gatehouse-none', 'gatehouse-full', 'gatehouse-redis']

export const DESCRIPTIONS: Record<ContenderName, string> = {
  direct: 'the backend alone (no proxy)',
  'bare-proxy': 'bare @fastify/http-proxy, logger off',
  'fast-gateway': 'fast-gateway (restana + fast-proxy-lite)',
  'gatehouse-none': 'Gatehouse, auth: none, no rate limit, no breaker, access log off',
  'gatehouse-full': 'Gatehouse, JWT HS256 + scope, rate limit (memory), breaker, metrics, access log off',
  'gatehouse-redis': 'Gatehouse full pipeline, rate limit in Redis',
}

export interface GatehouseConfigOptions {
  port: number
  adminPort: number
  backendUrl: string
  redisUrl?: string
  redisKeyPrefix?: string
}

// The raw (YAML-shaped) config of a Gatehouse contender.
export function gatehouseConfig (variant: GatehouseVariant, o: GatehouseConfigOptions): Record<string, unknown> {
  const base = {
    server: {
      host: '127.0.0.1',
      port: o.port,
      // Short drain: the bench stops the gateway only after its load has ended.
      timeouts: { drain: '1s' },
    },
    logging: { level: 'warn', access: false },
    admin: { host: '127.0.0.1', port: o.adminPort },
  }
  const service = { name: 'bench', prefix: PREFIX, upstreams: [o.backendUrl] }
  if (variant === 'none') {
    return { ...base, services: [{ ...service, auth: 'none', circuitBreaker: false }] }
  }
  const rateLimit = variant === 'redis'
    ? {
        store: 'redis',
        redis: { url: o.redisUrl ?? 'redis://127.0.0.1:6379', keyPrefix: o.redisKeyPrefix ?? 'gatehouse:bench:', timeout: '50ms' },
        // A Redis failure must show up as errors in the results, not as silently local counting.
        onStoreError: 'deny',
        default: NEVER_HIT,
      }
    : { store: 'memory', default: NEVER_HIT }
  return {
    ...base,
    auth: { jwt: { secret: JWT_SECRET, issuer: JWT_ISSUER, audience: JWT_AUDIENCE, algorithms: ['HS256'] } },
    rateLimit,
    services: [{
      ...service,
      auth: 'required',
      scopes: [BENCH_SCOPE],
      // SPEC.md's defaults, spelled out so the breaker is on whatever the default becomes.
      circuitBreaker: { timeout: '10s', errorThresholdPercentage: 50, volumeThreshold: 10, resetTimeout: '10s' },
    }],
  }
}

// One token for the whole run (one consumer, so one rate-limit counter), valid for hours.
// Every contender gets it, so all forward the same request bytes and the Gatehouse
// variants differ from the others only by what they do with it.
export function benchToken (): string {
  const sign = createSigner({ key: JWT_SECRET, algorithm: 'HS256', iss: JWT_ISSUER, aud: JWT_AUDIENCE, expiresIn: 6 * 3600 * 1000 })
  return sign({ sub: 'bench-client', scope: BENCH_SCOPE })
}
