// Over ~250 lines on purpose: the composition root. What lives as long as the process
// (context, stores, tracer, egress), the serving generation and its in-flight counts, and
// the shutdown order are one lifecycle; the parts themselves live in plugins/ and reload/.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import proxyaddr from 'proxy-addr'
import { Agent } from 'undici'
import { inject, type InjectOptions, type Response as InjectResponse } from 'light-my-request'
import type { GatewayConfig, ServiceConfig } from './config/types.ts'
import { upstreamKey, type GatewayContext } from './context.ts'
import { buildGeneration, type Generation } from './generation.ts'
import { buildAdmin } from './admin/index.ts'
import { createLogger } from './logger.ts'
import { createGatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'
import { createKnownSeries } from '../../plugins/metrics/known-series.ts'
import { knownServices } from './known-services.ts'
import { createKeySource, type AuthKeyOptions } from '../../plugins/auth/key-source.ts'
import { createRateLimitStore } from '../../plugins/rate-limit/index.ts'
import { upstreamMetricsHooks } from '../../plugins/metrics/upstream-metrics.ts'
import { createResilience } from '../../plugins/breaker/index.ts'
import { createCacheStores } from '../../plugins/cache/stores.ts'
import { impliedRateLimit } from './config/index.ts'
import { defaultRateLimit } from '../../plugins/rate-limit/schema.ts'
import { createReloader, type Reloader } from './reload/index.ts'
import { upstreamAgentOptions } from './tls/upstream-agents.ts'
import { acceptsWebSocket, Tunnels, upgradeResponse } from '../../plugins/websocket/index.ts'
import { onResponseClosed } from '../../plugins/request-context/index.ts'
import type { UpstreamState } from '../../lib/service-runtime.ts'
import { attemptSpans, createTracing, DEFAULT_TRACING_OPTIONS, type TracingOptions } from '../../plugins/tracing/index.ts'
import { createEgressProxy, type EgressLookup, type EgressProxy } from '../../plugins/egress/index.ts'

export interface Gateway {
  readonly ctx: GatewayContext
  readonly admin: FastifyInstance
  // The public port's request listener; server.ts hands it to http.createServer.
  handler: (req: IncomingMessage, res: ServerResponse) => void
  // The public port's 'upgrade' listener, and Node's shouldUpgradeCallback: WebSocket
  // upgrades to `websocket: true` services go through the current generation's hooks.
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  shouldUpgrade: (req: IncomingMessage) => boolean
  inject: (opts: InjectOptions | string) => Promise<InjectResponse>
  current: () => Generation
  // Swap in a new routing table built from these services; the old one finishes its requests.
  applyServices: (services: ServiceConfig[]) => Promise<void>
  // servicesDir watch, SIGHUP and admin API changes, validated and applied one at a time.
  readonly reloader: Reloader
  // The egress port's proxy (plugins/egress), null without an `egress` section; server.ts
  // makes it listen.
  readonly egress: EgressProxy | null
  close: () => Promise<void>
}

// One generation and the requests it is still serving: a replaced generation is closed
// when its last request ends (or after timeouts.drain, for a response that never
// ends). Closing it runs no code under a running request and leaves ctx.agent alone.
interface Serving {
  generation: Generation
  inflight: number
  onIdle: (() => void) | null
}

const kServing = Symbol('gatehouse.serving')
type TrackedResponse = ServerResponse & { [kServing]?: Serving }

// Shared (no closure per request); 'close' fires once per response.
function responseClosed (res: TrackedResponse) {
  const serving = res[kServing]!
  if (--serving.inflight === 0 && serving.onIdle !== null) serving.onIdle()
}

function upgradeClosed (this: TrackedResponse) {
  responseClosed(this)
}

export interface BuildOptions {
  logger?: FastifyBaseLogger
  // Internal tuning of JWT key handling (JWKS cool-down, timeouts); tests shorten them.
  auth?: AuthKeyOptions
  // Internal tuning of span export (queue bound, batch delay); tests shorten them.
  tracing?: Partial<TracingOptions>
  // The egress port's resolver (dns.lookup by default); tests answer as they need.
  egressLookup?: EgressLookup
}

// Builds the gateway from a resolved config. Never listens (server.ts does).
export async function buildGateway (config: GatewayConfig, options: BuildOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logging.level)
  const t = config.server.timeouts
  const trust = config.server.trustProxy === false ? null : proxyaddr.compile(config.server.trustProxy)
  const ctx: GatewayContext = {
    config,
    logger,
    // The shared upstream pool (apps/gateway/tls/upstream-agents.ts has its settings).
    agent: new Agent(upstreamAgentOptions(t)),
    upstreams: new Map(),
    upstreamHooks: [],
    metrics: createGatewayMetrics(),
    isTrustedPeer: trust === null ? () => false : (address) => address !== undefined && trust(address, 0),
    state: { listening: false, draining: false },
    rateLimitStore: null,
    auth: config.auth.jwt === null ? null : createKeySource(config.auth.jwt, logger, options.auth),
    // The cache's Redis settings are rateLimit.redis, or their defaults.
    cacheStores: createCacheStores(() => ({ rateLimit: ctx.config.rateLimit ?? defaultRateLimit(), logger, metrics: ctx.metrics })),
    websockets: new Tunnels(),
    tracing: null,
  }
  // The first JWKS load (bounded by its fetch timeout; a failure is logged, not fatal).
  await ctx.auth?.ready
  if (config.rateLimit !== null) ctx.rateLimitStore = await createRateLimitStore(config.rateLimit, ctx)

  // Gateway-level setup of the policies that live across generations (they may push
  // UpstreamHooks into ctx.upstreamHooks): [breakers/health: plugins/breaker] [metrics hooks]
  ctx.upstreamHooks.push(upstreamMetricsHooks(ctx.metrics))
  if (config.tracing !== null) {
    const tracing = createTracing(config.tracing, ctx.metrics.tracingSpansDropped, { ...DEFAULT_TRACING_OPTIONS, ...options.tracing })
    ctx.tracing = tracing
    ctx.upstreamHooks.push({ tracer: attemptSpans(tracing.tracer) })
  }
  // Breakers, health checks and load balancing: state on UpstreamState, read by the dispatcher.
  const resilience = createResilience(ctx)
  let generation = await buildGeneration(ctx, config.services)
  resilience.attach(generation.services)
  // Counter series the config makes known start at 0 (plugins/metrics/known-series.ts).
  const knownSeries = createKnownSeries(ctx.metrics)
  await knownSeries.apply(knownServices(generation.services, ctx.config.rateLimit, ctx.metrics))
  let serving: Serving = { generation, inflight: 0, onIdle: null }
  const retired = new Map<Serving, Promise<void>>()

  function handler (req: IncomingMessage, res: ServerResponse) {
    const s = serving
    s.inflight++
    ;(res as TrackedResponse)[kServing] = s
    // Every request passes the request-context hook (or frameworkErrors), whose 'close'
    // listener calls this: no listener of our own.
    onResponseClosed(res, responseClosed)
    s.generation.app.routing(req, res)
  }

  // Counted like a request: the response closes with the socket (after the tunnel, if any).
  function upgrade (req: IncomingMessage, socket: Duplex, head: Buffer) {
    const s = serving
    const res = upgradeResponse(req, socket, head)
    if (res === null) return
    s.inflight++
    ;(res as TrackedResponse)[kServing] = s
    res.on('close', upgradeClosed)
    s.generation.app.routing(req, res)
  }

  async function applyServices (services: ServiceConfig[]) {
    // SPEC: without a rateLimit section a service's own limit is counted in memory; a
    // reload may bring the first such service.
    if (ctx.config.rateLimit === null) {
      const implied = impliedRateLimit(null, services)
      if (implied !== null) {
        ctx.rateLimitStore ??= await createRateLimitStore(implied, ctx)
        ctx.config = { ...ctx.config, rateLimit: implied }
      }
    }
    const next = await buildGeneration(ctx, services)
    const previous = serving
    generation = next
    serving = { generation: next, inflight: 0, onIdle: null }
    ctx.config = { ...ctx.config, services }
    releaseUnusedUpstreams(services)
    retire(previous)
    // Starts the new services' series in this tick too, and drops those of removed ones.
    await knownSeries.apply(knownServices(next.services, ctx.config.rateLimit, ctx.metrics))
  }

  function retire (s: Serving) {
    let timer: NodeJS.Timeout | undefined
    const closed = new Promise<void>((resolve) => {
      s.onIdle = resolve
      if (s.inflight === 0) resolve()
      else timer = setTimeout(resolve, ctx.config.server.timeouts.drainMs).unref()
    }).then(() => {
      clearTimeout(timer)
      s.onIdle = null
      return s.generation.app.close()
    }).then(() => knownSeries.prune()).catch((err: unknown) => {
      logger.error({ err }, 'closing a replaced generation failed')
    }).finally(() => {
      retired.delete(s)
    })
    retired.set(s, closed)
  }

  // Upstream state no service references any more is dropped, its breaker and health
  // check shut down; an unchanged upstream keeps its state (breaker, health) as it is.
  function releaseUnusedUpstreams (services: ServiceConfig[]) {
    const keep = new Set<string>()
    for (const s of services) for (const o of s.upstreams) keep.add(upstreamKey(s, o))
    for (const [key, state] of ctx.upstreams) {
      if (keep.has(key)) continue
      ctx.upstreams.delete(key)
      resilience.release(state)
      closeAgent(state)
    }
    // Upstreams new in the generation just swapped in get their breaker and health check
    // now, in the same tick as the swap, so no request reaches them before.
    resilience.attach(generation.services)
  }

  // A released upstream's own TLS Agent: requests still running on it finish first
  // (undici's close() is graceful).
  function closeAgent (state: UpstreamState) {
    if (state.agent === null) return
    state.agent.close().catch((err: unknown) => logger.warn({ err }, 'closing an upstream TLS agent failed'))
  }

  const reloader = createReloader({ ctx, applyServices })
  await reloader.start()
  // Reads ctx.config.egress per request: SIGHUP's live keys apply to the next one.
  const egress = config.egress === null
    ? null
    : createEgressProxy({
      settings: () => ctx.config.egress ?? config.egress!,
      keys: ctx.auth,
      metrics: ctx.metrics,
      logger,
      accessLog: () => ctx.config.logging.access,
      store: () => ctx.rateLimitStore,
      onStoreError: () => ctx.config.rateLimit?.onStoreError ?? 'local',
      ...(options.egressLookup !== undefined ? { lookup: options.egressLookup } : {}),
    })
  const admin = await buildAdmin({
    ctx,
    current: () => generation,
    reloader,
    ...(egress === null ? {} : { status: { egress: () => ({ destinations: egress.openTunnels(), tunnels: egress.tunnels }) } }),
  })

  let closing: Promise<void> | null = null
  async function closeAll () {
    // No reload may build a generation after this point.
    await reloader.close()
    // Health checks and breaker timers first: an in-flight check must not hold the agent open.
    resilience.close()
    await admin.close()
    egress?.cutAll()
    for (const s of retired.keys()) s.onIdle?.()
    await Promise.all(retired.values())
    await generation.app.close()
    ctx.websockets.destroyAll()
    await ctx.agent.close()
    await Promise.all([...ctx.upstreams.values()].map((state) => state.agent?.close()))
    await ctx.rateLimitStore?.close()
    await ctx.auth?.close()
    await ctx.cacheStores.close()
    // Last: the spans of the requests that just finished are exported (bounded by the
    // export timeout; a collector that is down costs that, once).
    await ctx.tracing?.shutdown()
  }

  return {
    ctx,
    admin,
    handler,
    inject: (opts) => inject(handler, opts),
    upgrade,
    shouldUpgrade: (req) => acceptsWebSocket(generation.services, req),
    current: () => generation,
    applyServices,
    reloader,
    egress,
    // Once: a second call (a signal during shutdown, a test's cleanup) waits for the first.
    close () {
      closing ??= closeAll()
      return closing
    },
  }
}
