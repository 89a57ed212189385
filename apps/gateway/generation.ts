import Fastify, { type FastifyInstance } from 'fastify'
import type { IncomingMessage } from 'node:http'
import type { GatewayContext } from './context.ts'
import { upstreamKey } from './context.ts'
import type { ServiceConfig } from './config/types.ts'
import { createServiceRuntime, createUpstreamState, type ServiceRuntime } from '../../lib/service-runtime.ts'
import errorsPlugin from '../../plugins/errors/index.ts'
import requestContextPlugin, { kBadTarget } from '../../plugins/request-context/index.ts'
import { baseFastifyOptions } from './fastify-options.ts'
import authPlugin from '../../plugins/auth/index.ts'
import rateLimitPlugin from '../../plugins/rate-limit/index.ts'
import proxyPlugin, { createUpstreamDispatcher, normalizeTarget } from '../../plugins/proxy/index.ts'
import metricsPlugin from '../../plugins/metrics/index.ts'
import accessLogPlugin from '../../plugins/access-log/index.ts'
import ipAccessPlugin from '../../plugins/ip-access/index.ts'
import cachePlugin from '../../plugins/cache/index.ts'
import corsPlugin from '../../plugins/cors/index.ts'
import compressionPlugin from '../../plugins/compression/index.ts'
import tracingPlugin from '../../plugins/tracing/index.ts'
import { createUpstreamAgent } from './tls/upstream-agents.ts'

// One routing table: a Fastify instance with one http-proxy per service. Fastify cannot
// add routes after start, so a reload builds a new generation aside and the public server
// switches to it in one assignment (see docs/architecture.md).
export interface Generation {
  app: FastifyInstance
  services: Array<ServiceRuntime<ServiceConfig>>
}

function rewriteUrl (this: FastifyInstance, req: IncomingMessage): string {
  const result = normalizeTarget(req.url ?? '/')
  if ('error' in result) {
    (req as unknown as Record<symbol, string>)[kBadTarget] = result.error
    return req.url ?? '/'
  }
  return result.url
}

export async function buildGeneration (ctx: GatewayContext, services: ServiceConfig[]): Promise<Generation> {
  const { config } = ctx
  const runtimes = services.map((s) => createServiceRuntime(s, {
    // Upstream call budget: the smaller of the gateway ceiling and the breaker timeout.
    timeoutMs: Math.min(config.server.timeouts.upstreamMs, s.circuitBreaker ? s.circuitBreaker.timeoutMs : Infinity),
    leastConnections: s.loadBalancing === 'least-connections',
  }, (svc, origin) => {
    const key = upstreamKey(svc, origin)
    let state = ctx.upstreams.get(key)
    if (state === undefined) {
      state = createUpstreamState(origin)
      // https upstreams with a private CA or rejectUnauthorized: false get a pool of their own.
      if (svc.upstreamTls !== null) state.agent = createUpstreamAgent(config.server.timeouts, svc.upstreamTls)
      ctx.upstreams.set(key, state)
    }
    return state
  }))

  const app = Fastify({
    ...baseFastifyOptions(ctx.logger),
    trustProxy: config.server.trustProxy === false ? false : config.server.trustProxy,
    bodyLimit: config.server.bodyLimit,
    rewriteUrl,
    return503OnClosing: false,
  })

  await app.register(errorsPlugin)
  await app.register(requestContextPlugin)
  // [tracing: plugins/tracing] right after the context: the SERVER span covers every policy.
  await app.register(tracingPlugin, { tracer: ctx.tracing?.tracer ?? null })
  // Plugin order (DEVELOPERS.md): metrics -> auth -> rate limit -> breaker -> proxy.
  // Each policy plugin takes { ctx, services } and registers root-scope onRequest hooks.
  // [metrics + access log: plugins/metrics, plugins/access-log]
  await app.register(metricsPlugin, { metrics: ctx.metrics })
  await app.register(accessLogPlugin, { enabled: config.logging.access })
  // [edge: plugins/ip-access, plugins/cache, plugins/cors] (order matters, see each):
  // ip access is the first policy hook: a refused address gets 403 before anything else.
  await app.register(ipAccessPlugin, { global: config.ipAccess, services: runtimes })
  // The cache looks up in preHandler, i.e. after every onRequest policy (ip access, auth,
  // rate limit) and right before the proxy; it is registered here so that its onSend
  // (storing the upstream response) runs before CORS and compression change the response.
  await app.register(cachePlugin, { stores: ctx.cacheStores, requests: ctx.metrics.cacheRequests, services: runtimes })
  // CORS preflights are answered in onRequest, before auth and rate limit (no token needed,
  // never counted, never proxied).
  await app.register(corsPlugin, { services: runtimes })
  // [auth: plugins/auth]
  await app.register(authPlugin, { keys: ctx.auth, failures: ctx.metrics.authFailures, services: runtimes })
  // [rate limit: plugins/rate-limit]
  await app.register(rateLimitPlugin, { config: config.rateLimit, store: ctx.rateLimitStore, metrics: ctx.metrics, services: runtimes })
  // [compression: plugins/compression] the last onSend hook: it encodes the final body.
  await app.register(compressionPlugin, { config: config.compression })
  // [breaker: gates upstream calls through ctx.upstreamHooks, set up in app.ts]
  await app.register(proxyPlugin, {
    services: runtimes,
    dispatcher: createUpstreamDispatcher(ctx.agent, { hooks: ctx.upstreamHooks, bodyLimit: config.server.bodyLimit }),
    forwardAuthorization: config.auth.jwt?.forwardAuthorization ?? true,
    isTrustedPeer: ctx.isTrustedPeer,
    // WebSocket upgrades of `websocket: true` services (plugins/websocket).
    websocket: {
      upstreamHooks: ctx.upstreamHooks,
      connections: ctx.metrics.websocketConnections,
      timeouts: config.server.timeouts,
      tunnels: ctx.websockets,
    },
  })
  await app.ready()
  return { app, services: runtimes }
}
