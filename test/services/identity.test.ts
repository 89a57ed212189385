import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'
import { createDecoder, createVerifier } from 'fast-jwt'
import { buildIdentityService } from '../../services/identity/app.ts'
import type { IdentityOptions } from '../../services/identity/app.ts'

function setup (t: import('node:test').TestContext, opts: IdentityOptions = {}) {
  const app = buildIdentityService(opts)
  t.after(() => app.close())
  return app
}

const decodeComplete = createDecoder({ complete: true })

async function jwks (app: ReturnType<typeof setup>) {
  const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
  assert.equal(res.statusCode, 200)
  return res.json().keys as (JsonWebKey & { kid: string })[]
}

test('GET /health answers ok', async (t) => {
  const res = await setup(t).inject({ method: 'GET', url: '/health' })
  assert.deepEqual(res.json(), { status: 'ok' })
})

test('the JWKS serves one RS256 signing key', async (t) => {
  const keys = await jwks(setup(t))
  assert.equal(keys.length, 1)
  const [key] = keys
  assert.equal(key.kty, 'RSA')
  assert.equal(key.alg, 'RS256')
  assert.equal(key.use, 'sig')
  assert.ok(key.n && key.e && key.kid)
  assert.equal('d' in key, false, 'no private parts')
})

test('POST /token returns a token that verifies against the served JWKS', async (t) => {
  const app = setup(t)
  const res = await app.inject({ method: 'POST', url: '/token', payload: { sub: 'alice', scope: 'users:read' } })
  assert.equal(res.statusCode, 200)
  const body = res.json()
  assert.equal(body.token_type, 'Bearer')
  assert.equal(body.expires_in, 3600)

  const { header } = decodeComplete(body.access_token)
  assert.equal(header.alg, 'RS256')
  const jwk = (await jwks(app)).find((k) => k.kid === header.kid)
  assert.ok(jwk, 'the token kid is in the JWKS')

  const key = createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString()
  const verify = createVerifier({ key, algorithms: ['RS256'], allowedIss: 'gatehouse-demo', allowedAud: 'gatehouse' })
  const claims = verify(body.access_token)
  assert.equal(claims.sub, 'alice')
  assert.equal(claims.scope, 'users:read')
  assert.equal(claims.exp - claims.iat, 3600)
})

test('issuer, audience and ttl are configurable', async (t) => {
  const app = setup(t, { issuer: 'other-iss', audience: 'other-aud', ttlSeconds: 60 })
  const res = await app.inject({ method: 'POST', url: '/token', payload: { sub: 'bob' } })
  const { access_token: token, expires_in: expiresIn } = res.json()
  assert.equal(expiresIn, 60)
  const [jwk] = await jwks(app)
  const key = createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString()
  const claims = createVerifier({ key, allowedIss: 'other-iss', allowedAud: 'other-aud' })(token)
  assert.equal(claims.sub, 'bob')
  assert.equal(claims.scope, undefined)
  assert.equal(claims.exp - claims.iat, 60)
  assert.throws(() => createVerifier({ key, allowedIss: 'gatehouse-demo' })(token))
})

test('a given private key keeps its kid across restarts; generated keys differ', async (t) => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const [a] = await jwks(setup(t, { privateKey: pem }))
  const [b] = await jwks(setup(t, { privateKey: pem }))
  assert.equal(a.kid, b.kid)
  assert.equal(a.n, b.n)
  const [c] = await jwks(setup(t))
  assert.notEqual(c.kid, a.kid)
})

test('a non-RSA private key is refused at build time', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  assert.throws(() => buildIdentityService({ privateKey: pem }), /RSA/)
})

test('POST /token validates its body', async (t) => {
  const app = setup(t)
  for (const payload of [{}, { sub: '' }, { sub: 'x'.repeat(129) }, { scope: 'users:read' }, { sub: 'a', scope: 'x'.repeat(1025) }]) {
    const res = await app.inject({ method: 'POST', url: '/token', payload })
    assert.equal(res.statusCode, 400, JSON.stringify(payload))
  }
})
