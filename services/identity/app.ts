// The "identity" sample service: a tiny token issuer with a JWKS endpoint, so the
// gateway's jwksUrl mode can be demonstrated. It trusts whoever asks: demo only.
import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import { createServiceApp } from '../shared/base-app.ts'
import type { ServiceOptions } from '../shared/base-app.ts'
import { loadSigningKey } from './keys.ts'

export interface IdentityOptions extends ServiceOptions {
  privateKey?: string // PEM; a fresh key pair is generated when absent
  issuer?: string
  audience?: string
  ttlSeconds?: number
}

interface TokenRequest {
  sub: string
  scope?: string
}

const tokenBody = {
  type: 'object',
  required: ['sub'],
  additionalProperties: false,
  properties: {
    sub: { type: 'string', minLength: 1, maxLength: 128 },
    scope: { type: 'string', maxLength: 1024 },
  },
} as const

export function buildIdentityService (opts: IdentityOptions = {}): FastifyInstance {
  const app = createServiceApp(opts)
  const key = loadSigningKey(opts.privateKey)
  const ttlSeconds = opts.ttlSeconds ?? 3600
  const sign = createSigner({
    key: key.privatePem,
    algorithm: 'RS256',
    kid: key.kid,
    iss: opts.issuer ?? 'gatehouse-demo',
    aud: opts.audience ?? 'gatehouse',
    expiresIn: ttlSeconds * 1000,
  })

  app.get('/.well-known/jwks.json', async (_req, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return { keys: [key.jwk] }
  })

  app.post<{ Body: TokenRequest }>('/token', { schema: { body: tokenBody } }, async (req) => {
    const { sub, scope } = req.body
    const claims = scope === undefined ? { sub } : { sub, scope }
    return { access_token: sign(claims), token_type: 'Bearer', expires_in: ttlSeconds, scope: scope ?? '' }
  })

  return app
}
