// The auth plugin alone on a bare Fastify instance (issue 19: every plugin testable on
// its own): the errors and request-context plugins it depends on, one route per service
// that answers with what auth left on the request, and nothing of apps/gateway.
import type { TestContext } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import errorsPlugin from '../../plugins/errors/index.ts'
import requestContextPlugin from '../../plugins/request-context/index.ts'
import authPlugin, { createKeySource } from '../../plugins/auth/index.ts'
import type { AuthMode, JwtConfig } from '../../plugins/auth/schema.ts'
import { createGatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'
import { createServiceRuntime, createUpstreamState } from '../../lib/service-runtime.ts'
import { AUDIENCE, ISSUER, SECRET } from './fixtures.ts'

export interface BareService {
  name: string
  auth: AuthMode
  scopes?: string[]
}

// What the route saw: the consumer and scopes auth set, and the identity object
// @fastify/jwt put on request.user (the same object for every hit of the verify cache).
export interface Seen {
  consumer: string | null
  scopes: string | null
  user: unknown
}

export const JWT: JwtConfig = {
  secret: SECRET,
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: ['HS256'],
  clockToleranceMs: 0,
  forwardAuthorization: true,
}

export async function createAuthApp (t: TestContext, services: BareService[], jwt: JwtConfig = JWT) {
  const metrics = createGatewayMetrics()
  const keys = createKeySource(jwt, { info () {}, warn () {} } as never)
  t.after(() => keys.close())
  const runtimes = services.map((s) => createServiceRuntime({
    name: s.name,
    prefix: `/${s.name}`,
    upstreams: [],
    rewritePrefix: '',
    retries: 0,
    websocket: false,
    upstreamTls: null,
    source: 'config' as const,
    auth: s.auth,
    scopes: s.scopes ?? [],
    routes: [],
  }, { timeoutMs: 1000, leastConnections: false }, (_svc, origin) => createUpstreamState(origin)))
  const seen: Seen[] = []
  const app: FastifyInstance = Fastify()
  await app.register(errorsPlugin)
  await app.register(requestContextPlugin)
  await app.register(authPlugin, { keys, failures: metrics.authFailures, services: runtimes })
  for (const service of runtimes) {
    app.get(`/${service.name}`, { config: { service } }, async (request) => {
      seen.push({ consumer: request.gw.consumer, scopes: request.gw.scopes, user: request.user })
      return 'ok'
    })
  }
  await app.ready()
  t.after(() => app.close())
  async function failures (service: string, reason: string): Promise<number> {
    const metric = await metrics.authFailures.get()
    return metric.values.find((v) => v.labels.service === service && v.labels.reason === reason)?.value ?? 0
  }
  return { app, seen, failures, keys }
}
