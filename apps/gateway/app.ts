import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import proxyaddr from 'proxy-addr'
import { Agent } from 'undici'
import { inject, type InjectOptions, type Response as InjectResponse } from 'light-my-request'
import type { GatewayConfig, ServiceConfig } from './config/types.ts'
import { upstreamKey, type GatewayContext } from './context.ts'
import { buildGeneration, type Generation } from './generation.ts'
import { buildAdmin } from './admin/index.ts'
import { createLogger } from './logger.ts'
import { createGatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'

export interface Gateway {
  readonly ctx: GatewayContext
  readonly admin: FastifyInstance
  // The public port's request listener; server.ts hands it to http.createServer.
  handler: (req: IncomingMessage, res: ServerResponse) => void
  inject: (opts: InjectOptions | string) => Promise<InjectResponse>
  current: () => Generation
  // Swap in a new routing table built from these services; the old one finishes its requests.
  applyServices: (services: ServiceConfig[]) => Promise<void>
  close: () => Promise<void>
}

export interface BuildOptions {
  logger?: FastifyBaseLogger
}

// Builds the gateway from a resolved config. Never listens (server.ts does).
export async function buildGateway (config: GatewayConfig, options: BuildOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logging.level)
  const t = config.server.timeouts
  const trust = config.server.trustProxy === false ? null : proxyaddr.compile(config.server.trustProxy)
  const ctx: GatewayContext = {
    config,
    logger,
    // Upstream sockets idle out before a Node upstream's default 5 s keep-alive, so a
    // reused socket is never one the upstream is about to close under us.
    agent: new Agent({
      connect: { timeout: t.connectMs },
      keepAliveTimeout: Math.min(4000, t.keepAliveMs),
      keepAliveMaxTimeout: Math.min(4000, t.keepAliveMs),
      headersTimeout: t.upstreamMs,
      bodyTimeout: t.upstreamMs,
    }),
    upstreams: new Map(),
    upstreamHooks: [],
    metrics: createGatewayMetrics(),
    isTrustedPeer: trust === null ? () => false : (address) => address !== undefined && trust(address, 0),
    state: { listening: false, draining: false },
  }

  // Gateway-level setup of the policies that live across generations (they may push
  // UpstreamHooks into ctx.upstreamHooks): [breakers/health: plugins/breaker] [metrics hooks]
  let generation = await buildGeneration(ctx, config.services)
  const retired: Generation[] = []

  function handler (req: IncomingMessage, res: ServerResponse) {
    generation.app.routing(req, res)
  }

  async function applyServices (services: ServiceConfig[]) {
    const next = await buildGeneration(ctx, services)
    const previous = generation
    generation = next
    ctx.config = { ...ctx.config, services }
    releaseUnusedUpstreams(services)
    retired.push(previous)
  }

  // Upstream state no service references any more is dropped (and, with breakers and
  // health checks, shut down by the hooks that own them).
  function releaseUnusedUpstreams (services: ServiceConfig[]) {
    const keep = new Set<string>()
    for (const s of services) for (const o of s.upstreams) keep.add(upstreamKey(s, o))
    for (const key of ctx.upstreams.keys()) if (!keep.has(key)) ctx.upstreams.delete(key)
  }

  const admin = await buildAdmin({ ctx, current: () => generation })

  return {
    ctx,
    admin,
    handler,
    inject: (opts) => inject(handler, opts),
    current: () => generation,
    applyServices,
    async close () {
      await admin.close()
      for (const g of retired) await g.app.close()
      await generation.app.close()
      await ctx.agent.close()
    },
  }
}
