import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { TokenError } from 'fast-jwt'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import type { AuthServiceFields } from './schema.ts'
import { bearerToken, DEFAULT_MAX_TOKEN_BYTES } from './bearer.ts'
import { insufficientScope, invalidToken, missingToken, type FailureReason } from './challenge.ts'
import type { Claims, Identity } from './identity.ts'
import { compilePolicy, ruleFor, type Rule, type ServicePolicy } from './policy.ts'
import type { KeySource } from './keys.ts'
import { jwtOptions } from './jwt-options.ts'
import { TokenMemo } from './token-memo.ts'

export { createKeySource, type AuthKeyOptions, type KeySource } from './key-source.ts'

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: Claims
    // formatUser (jwt-options.ts) turns the verified claims into the caller's identity.
    user: Identity
  }
}

export interface AuthPluginOptions {
  // Verification keys (and the JWKS cache), kept for the gateway's lifetime; null
  // without auth.jwt.
  keys: KeySource | null
  failures: GatewayMetrics['authFailures']
  services: ReadonlyArray<ServiceRuntime<ServiceCore & AuthServiceFields>>
  maxTokenBytes?: number
}

export const DEFAULT_AUTH_OPTIONS = { maxTokenBytes: DEFAULT_MAX_TOKEN_BYTES }

interface Counter { inc: () => void }

// @fastify/jwt's code for an expired token (it wraps fast-jwt's).
const EXPIRED = 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED'

interface CompiledPolicy extends ServicePolicy {
  failures: Record<FailureReason, Counter>
}

// JWT authentication and scope authorization (SPEC: auth.jwt, per-service auth/scopes,
// routes[]). Runs in onRequest, before rate limits and before any body byte is read.
// Keys (and the JWKS cache) live as long as the gateway (opts.keys); the policies and
// @fastify/jwt, which verifies the tokens, are set up once per generation.
async function authPlugin (app: FastifyInstance, opts: AuthPluginOptions) {
  const { keys } = opts
  const maxTokenBytes = opts.maxTokenBytes ?? DEFAULT_AUTH_OPTIONS.maxTokenBytes
  const policies = new Map<ServiceRuntime, CompiledPolicy>()
  for (const svc of opts.services) {
    const policy = compilePolicy(svc.config)
    if (policy === null) continue
    const c = opts.failures
    policies.set(svc, {
      ...policy,
      failures: {
        missing: c.labels(svc.name, 'missing'),
        invalid: c.labels(svc.name, 'invalid'),
        expired: c.labels(svc.name, 'expired'),
        scope: c.labels(svc.name, 'scope'),
      },
    })
  }
  // No service needs a token: no hook, no per-request cost at all.
  if (policies.size === 0) return
  // request.jwtVerify and its verifiers, for this generation (jwt-options.ts).
  if (keys !== null) await app.register(fastifyJwt, jwtOptions(keys))
  const memo = keys === null ? null : new TokenMemo(keys.jwt.clockToleranceMs, keys.revision)

  // @fastify/jwt's errors (and fast-jwt's, which it passes on) as our three reasons.
  function rejected (policy: CompiledPolicy, err: unknown): Error {
    const code = (err as { code?: unknown }).code
    if (code === EXPIRED || code === TokenError.codes.expired) {
      policy.failures.expired.inc()
      return invalidToken('The bearer token has expired')
    }
    policy.failures.invalid.inc()
    return invalidToken(code === TokenError.codes.inactive ? 'The bearer token is not valid yet' : 'The bearer token is invalid')
  }

  function unusable (policy: CompiledPolicy, detail: string): Error {
    policy.failures.invalid.inc()
    return invalidToken(detail)
  }

  // Authorize a verified caller. Returns the error to answer with, or undefined to go on.
  function authorize (request: FastifyRequest, identity: Identity, rule: Rule, policy: CompiledPolicy): Error | undefined {
    if (identity.badSubject) return unusable(policy, 'The token\'s sub claim cannot be used as a consumer id')
    const gw = request.gw
    gw.consumer = identity.consumer
    gw.scopes = identity.scopes
    const required = rule.scopes
    for (let i = 0; i < required.length; i++) {
      if (!identity.scopeSet.has(required[i]!)) {
        policy.failures.scope.inc()
        return insufficientScope(required, rule.scopeChallenge)
      }
    }
    return undefined
  }

  app.addHook('onRequest', function authenticate (request, _reply, done) {
    const svc = request.gw.service
    // Unmatched requests (404) and services without auth pass straight through.
    if (svc === null) return done()
    const policy = policies.get(svc)
    if (policy === undefined) return done()
    const rule = policy.routes === null ? policy.base : ruleFor(policy, request.method, request.url)
    if (rule.mode === 'none') return done()

    // Read here as well as by @fastify/jwt (extractToken, the same parser): an absent
    // token is anonymous or `missing`, and an empty or oversized one never gets decoded.
    const token = bearerToken(request.headers.authorization)
    if (token === null) {
      if (rule.mode === 'optional') return done() // anonymous: no X-Consumer-* upstream
      policy.failures.missing.inc()
      return done(missingToken())
    }
    if (token === '') return done(unusable(policy, 'The bearer token is empty'))
    if (token.length > maxTokenBytes) return done(unusable(policy, 'The bearer token is too large'))
    // A token needs auth.jwt; config validation prevents this, fail closed regardless.
    if (memo === null) return done(unusable(policy, 'No key is configured to verify bearer tokens'))

    const now = Date.now()
    const known = memo.get(token, now)
    if (known !== undefined) {
      // What request.jwtVerify() would have left there.
      request.user = known
      return done(authorize(request, known, rule, policy))
    }
    // Without options: @fastify/jwt's global options, so its per-key verifier (and cache)
    // is reused; any options object would make it build a verifier for this call.
    request.jwtVerify<Identity>().then(
      (identity) => {
        memo.set(token, identity, now)
        done(authorize(request, identity, rule, policy))
      },
      (err: unknown) => done(rejected(policy, err))
    )
  })
}

export default fp(authPlugin, { name: 'gatehouse-auth', fastify: '5.x', dependencies: ['gatehouse-request-context'] })
