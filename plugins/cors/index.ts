import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import type { CorsConfig } from './schema.ts'
import { Forbidden } from '../errors/errors.ts'
import {
  compileCorsPolicy, CORS_RESPONSE_HEADERS, GATEWAY_EXPOSED_HEADERS, originAllowed, preflightProblem,
  PREFLIGHT_VARY, type CorsPolicy
} from './policy.ts'
import { appendVary } from './vary.ts'

export { compileCorsPolicy, type CorsPolicy } from './policy.ts'
export { appendVary, varyIncludes } from './vary.ts'

export interface CorsPluginOptions {
  services: ReadonlyArray<ServiceRuntime<ServiceCore & { cors: CorsConfig | null }>>
}

// CORS per service (SPEC "Edge options": `cors`). Not @fastify/cors: it answers every
// OPTIONS request as a preflight (or 400s it under strictPreflight) where a service may
// want plain OPTIONS proxied, answers a refused preflight 204 instead of 403, adds an
// `OPTIONS *` route of its own, sets its headers in onRequest where the proxied
// response's headers (an upstream Vary, its own Access-Control-*) overwrite them, and
// merges a per-route options object on every request. The logic is small; it lives here.
//
// - Preflight (OPTIONS + Origin + Access-Control-Request-Method): answered here, in
//   onRequest before auth and rate limits, 204 or 403 GW_FORBIDDEN. It never reaches the
//   upstream, needs no token and is never counted against a limit.
// - Actual requests: onSend puts the policy's headers on whatever answers (proxied
//   response, cache hit, gateway error), after dropping the upstream's own CORS headers.
async function corsPlugin (app: FastifyInstance, opts: CorsPluginOptions) {
  const policies = new Map<ServiceRuntime, CorsPolicy>()
  for (const svc of opts.services) {
    if (svc.config.cors !== null) policies.set(svc, compileCorsPolicy(svc.config.cors))
  }
  // No service has a policy: no hooks, no per-request cost.
  if (policies.size === 0) return

  app.addHook('onRequest', function corsPreflight (request, reply, done) {
    if (request.method !== 'OPTIONS') return done()
    const svc = request.gw.service
    const policy = svc === null ? undefined : policies.get(svc)
    if (policy === undefined) return done()
    const origin = request.headers.origin
    const method = request.headers['access-control-request-method']
    // Not a preflight: a plain OPTIONS request goes to the upstream like any other.
    if (origin === undefined || typeof method !== 'string') return done()

    const headers = request.headers['access-control-request-headers']
    const problem = preflightProblem(policy, origin, method, typeof headers === 'string' ? headers : undefined)
    if (problem !== null) return done(new Forbidden(`CORS preflight refused: ${problem}`))
    reply.code(204)
      .header('access-control-allow-origin', policy.anyOrigin ? '*' : origin)
      .header('access-control-allow-methods', policy.allowMethods)
      .header('access-control-allow-headers', policy.allowHeaders)
      .header('vary', PREFLIGHT_VARY)
      .header('x-request-id', String(request.id))
      // Safari waits for a body on a 204 without it.
      .header('content-length', '0')
    if (policy.credentials) reply.header('access-control-allow-credentials', 'true')
    if (policy.maxAge !== null) reply.header('access-control-max-age', policy.maxAge)
    reply.send()
  })

  app.addHook('onSend', function corsResponseHeaders (request, reply, payload, done) {
    const svc = request.gw?.service
    const policy = svc == null ? undefined : policies.get(svc)
    if (policy === undefined) return done(null, payload)
    const origin = request.headers.origin
    // Preflights were answered (or refused) by corsPreflight with their own headers.
    if (request.method === 'OPTIONS' && origin !== undefined &&
      typeof request.headers['access-control-request-method'] === 'string') return done(null, payload)
    const upstreamExposed = reply.getHeader('access-control-expose-headers')
    for (let i = 0; i < CORS_RESPONSE_HEADERS.length; i++) reply.removeHeader(CORS_RESPONSE_HEADERS[i]!)
    // With a list of origins the answer depends on Origin, for caches too.
    if (!policy.anyOrigin) appendVary(reply, 'Origin')
    if (origin !== undefined && originAllowed(policy, origin)) {
      reply.header('access-control-allow-origin', policy.anyOrigin ? '*' : origin)
      if (policy.credentials) reply.header('access-control-allow-credentials', 'true')
      reply.header('access-control-expose-headers', upstreamExposed === undefined
        ? GATEWAY_EXPOSED_HEADERS
        : `${String(upstreamExposed)}, ${GATEWAY_EXPOSED_HEADERS}`)
    }
    done(null, payload)
  })
}

export default fp(corsPlugin, { name: 'gatehouse-cors', fastify: '5.x', dependencies: ['gatehouse-request-context'] })
