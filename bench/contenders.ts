import { createSigner } from 'fast-jwt'

// What is measured: each contender is one process in front of the backend (or, for
// `direct`, the backend itself), all sent the same request with the same token.

export const PREFIX = '/api/bench'
export const LOAD_PATH = `${PREFIX}/hello`
export const BASELINE = 'bare-proxy'
const JWT = { secret: 'gatehouse-bench-secret-0123456789abcdef0123456789', issuer: 'gatehouse-bench', audience: 'gatehouse-bench' }
const SCOPE = 'bench:read'

export const KINDS = ['direct', 'floor-probe', 'nginx', 'bare-proxy', 'fast-gateway', 'gatehouse-none', 'gatehouse-full', 'gatehouse-traced', 'gatehouse-redis'] as const
export type Kind = typeof KINDS[number]

export const DESCRIPTIONS: Record<Kind, string> = {
  direct: 'the backend alone, no proxy (CPU: the backend\'s)',
  'floor-probe': 'PROBE, not a gateway: node:http server + undici Pool.dispatch() writing straight to the response',
  nginx: 'nginx, proxy_pass with upstream keepalive, one worker',
  'bare-proxy': 'bare @fastify/http-proxy, logger off',
  'fast-gateway': 'fast-gateway (restana + fast-proxy-lite), no policies',
  'gatehouse-none': 'Gatehouse: auth none, no rate limit, no breaker, access log off',
  'gatehouse-full': 'Gatehouse: JWT HS256 + scope, rate limit (memory, never hit), breaker, metrics, access log off',
  'gatehouse-traced': 'Gatehouse full pipeline + tracing (every request sampled, OTLP/HTTP JSON to a local sink)',
  'gatehouse-redis': 'Gatehouse full pipeline, rate limit in Redis',
}

// A contender run from another checkout (--compare) is named kind@sha.
export interface Contender { name: string, kind: Kind, root: string }

export interface GatehouseSetup { port: number, adminPort: number, backendUrl: string, redisUrl: string, redisKeyPrefix: string }

// A budget the bench never reaches: 100M requests a minute for one consumer.
const NEVER_HIT = { max: 100_000_000, window: '1m', by: 'consumer' }

// The YAML-shaped config (SPEC.md's format) of a Gatehouse contender.
export function gatehouseConfig (kind: Kind, o: GatehouseSetup): Record<string, unknown> {
  const base = {
    // Short drain: the bench stops a gateway only once its load has ended.
    server: { host: '127.0.0.1', port: o.port, timeouts: { drain: '1s' } },
    logging: { level: 'warn', access: false },
    admin: { host: '127.0.0.1', port: o.adminPort },
  }
  const service = { name: 'bench', prefix: PREFIX, upstreams: [o.backendUrl] }
  if (kind === 'gatehouse-none') return { ...base, services: [{ ...service, auth: 'none', circuitBreaker: false }] }
  const rateLimit = kind === 'gatehouse-redis'
    // deny: a Redis failure shows up as failed requests, not as silent local counting.
    // 250 ms, not SPEC's 50 ms default: Redis is not pinned and shares two cores that the
    // load and the proxies keep busy, and a scheduling gap over 50 ms (seen in priming on
    // slow phases) would fail the run for the machine, not for the gateway.
    ? { store: 'redis', redis: { url: o.redisUrl, keyPrefix: o.redisKeyPrefix, timeout: '250ms' }, onStoreError: 'deny', default: NEVER_HIT }
    : { store: 'memory', default: NEVER_HIT }
  return {
    ...base,
    // The backend answers any POST with 200: the span sink (the export is what costs here).
    ...(kind === 'gatehouse-traced' ? { tracing: { otlp: { url: `${o.backendUrl}/v1/traces` }, sampleRatio: 1 } } : {}),
    auth: { jwt: { ...JWT, algorithms: ['HS256'] } },
    rateLimit,
    services: [{
      ...service,
      auth: 'required',
      scopes: [SCOPE],
      // SPEC.md's defaults, spelled out so the breaker is on whatever the default becomes.
      circuitBreaker: { timeout: '10s', errorThresholdPercentage: 50, volumeThreshold: 10, resetTimeout: '10s' },
    }],
  }
}

// One token for the run (one consumer, one rate-limit counter), valid for hours.
export function benchHeaders (): Record<string, string> {
  const sign = createSigner({ key: JWT.secret, algorithm: 'HS256', iss: JWT.issuer, aud: JWT.audience, expiresIn: 6 * 3600 * 1000 })
  return { authorization: `Bearer ${sign({ sub: 'bench-client', scope: SCOPE })}`, accept: 'application/json' }
}
