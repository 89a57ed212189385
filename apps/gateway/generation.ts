import Fastify, { type FastifyInstance } from 'fastify'
import type { IncomingMessage } from 'node:http'
import type { GatewayContext } from './context.ts'
import { upstreamKey } from './context.ts'
import type { ServiceConfig } from './config/types.ts'
import { createServiceRuntime, createUpstreamState, type ServiceRuntime } from './runtime/service-runtime.ts'
import errorsPlugin from '../../plugins/errors/index.ts'
import requestContextPlugin, { kBadTarget } from '../../plugins/request-context/index.ts'
import { baseFastifyOptions } from './fastify-options.ts'
import proxyPlugin, { createUpstreamDispatcher, normalizeTarget } from '../../plugins/proxy/index.ts'

// One routing table: a Fastify instance with one http-proxy per service. Fastify cannot
// add routes after start, so a reload builds a new generation aside and the public server
// switches to it in one assignment (see docs/architecture.md).
export interface Generation {
  app: FastifyInstance
  services: ServiceRuntime[]
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
  const runtimes = services.map((s) => createServiceRuntime(s, config, (svc, origin) => {
    const key = upstreamKey(svc, origin)
    let state = ctx.upstreams.get(key)
    if (state === undefined) {
      state = createUpstreamState(origin)
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
  // Plugin order (DEVELOPERS.md): metrics -> auth -> rate limit -> breaker -> proxy.
  // Each policy plugin takes { ctx, services } and registers root-scope onRequest hooks.
  // [metrics + access log: plugins/metrics, plugins/access-log]
  // [auth: plugins/auth]
  // [rate limit: plugins/rate-limit]
  // [breaker: gates upstream calls through ctx.upstreamHooks, set up in app.ts]
  await app.register(proxyPlugin, {
    services: runtimes,
    dispatcher: createUpstreamDispatcher(ctx.agent, ctx.upstreamHooks),
    bodyLimit: config.server.bodyLimit,
    forwardAuthorization: config.auth.jwt?.forwardAuthorization ?? true,
    isTrustedPeer: ctx.isTrustedPeer,
  })
  await app.ready()
  return { app, services: runtimes }
}
