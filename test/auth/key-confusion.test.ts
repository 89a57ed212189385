import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { AUDIENCE, bearer, claims, ecKeyPair, hmacToken, ISSUER, jwkOf, rsaKeyPair, signWith, unsignedToken } from './fixtures.ts'

const rsa = rsaKeyPair()

async function setup (t: TestContext, publicPem: string, algorithms: string[]) {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' },
  ], { auth: { jwt: { publicKey: publicPem, issuer: ISSUER, audience: AUDIENCE, algorithms } } }))
  return { up, gw }
}

test('an RS256 token signed with the configured key pair is accepted', async (t) => {
  const { up, gw } = await setup(t, rsa.publicPem, ['RS256'])
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signWith(rsa, claims({ scope: 'users:read' }))) })
  assert.equal(res.statusCode, 200)
  assert.equal(up.requests[0]!.headers['x-consumer-id'], 'alice')
})

test('HS256 signed with the RSA public key against an RS256 config is refused (key confusion)', async (t) => {
  const { up, gw } = await setup(t, rsa.publicPem, ['RS256'])
  // The classic attack: the public key (public, after all) used as the HMAC secret, in
  // every spelling a naive verifier might have turned the key into.
  const der = rsa.publicKey.export({ type: 'spki', format: 'der' })
  for (const key of [rsa.publicPem, rsa.publicPem.trim(), der]) {
    const forged = hmacToken({ alg: 'HS256', typ: 'JWT' }, claims({ scope: 'users:read' }), key)
    const res = await gw.inject({ url: '/api/users/1', headers: bearer(forged) })
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="gatehouse", error="invalid_token"')
  }
  assert.equal(up.requests.length, 0)
})

test('alg "none" is refused with a public key configured', async (t) => {
  const { up, gw } = await setup(t, rsa.publicPem, ['RS256'])
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(unsignedToken()) })
  assert.equal(res.statusCode, 401)
  assert.equal(up.requests.length, 0)
})

test('a token signed by another RSA key is refused', async (t) => {
  const { up, gw } = await setup(t, rsa.publicPem, ['RS256'])
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signWith(rsaKeyPair())) })
  assert.equal(res.statusCode, 401)
  assert.equal(up.requests.length, 0)
})

test('an RS384 token is refused when the allow-list says RS256 only', async (t) => {
  const { up, gw } = await setup(t, rsa.publicPem, ['RS256'])
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signWith(rsa, claims(), { algorithm: 'RS384' })) })
  assert.equal(res.statusCode, 401)
  assert.equal(up.requests.length, 0)
})

test('an ES256 public key verifies ES256 tokens and nothing signed with RS256', async (t) => {
  const ec = ecKeyPair()
  const { up, gw } = await setup(t, ec.publicPem, ['ES256'])
  const ok = await gw.inject({ url: '/api/users/1', headers: bearer(signWith(ec, claims(), { algorithm: 'ES256' })) })
  assert.equal(ok.statusCode, 200)
  const rs = await gw.inject({ url: '/api/users/1', headers: bearer(signWith(rsa)) })
  assert.equal(rs.statusCode, 401)
  assert.equal(up.requests.length, 1)
})

test('secret beside a JWKS: HS256 dev tokens and RS256 identity tokens both work, and neither key verifies the other kind', async (t) => {
  const { createJwksServer, SECRET, signHs } = await import('./fixtures.ts')
  const jwks = await createJwksServer(t, [jwkOf(rsa, 'id-1', { alg: 'RS256' })])
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' },
  ], { auth: { jwt: { secret: SECRET, jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256', 'RS256'] } } }))

  const hs = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ sub: 'dev' }))) })
  assert.equal(hs.statusCode, 200)
  const rs = await gw.inject({ url: '/api/users/1', headers: bearer(signWith(rsa, claims({ sub: 'idp' }), { kid: 'id-1' })) })
  assert.equal(rs.statusCode, 200)
  assert.deepEqual(up.requests.map((r) => r.headers['x-consumer-id']), ['dev', 'idp'])

  // The RSA public key as an HMAC secret, and the shared secret as an "RS256" key: both refused.
  const forged = hmacToken({ alg: 'HS256', typ: 'JWT', kid: 'id-1' }, claims(), rsa.publicPem)
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(forged) })).statusCode, 401)
  const mislabelled = hmacToken({ alg: 'RS256', typ: 'JWT', kid: 'id-1' }, claims(), SECRET)
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(mislabelled) })).statusCode, 401)
  assert.equal(up.requests.length, 2)
})

test('config: publicKey and jwksUrl together are refused; HS algorithms need the secret', async () => {
  const { resolveConfig } = await import('../../apps/gateway/config/index.ts')
  const both = resolveConfig({ auth: { jwt: { publicKey: rsa.publicPem, jwksUrl: 'http://127.0.0.1:1/jwks' } } })
  assert.ok(both.problems.some((p) => p.path === 'auth.jwt' && /not both/.test(p.message)))
  const hsWithKey = resolveConfig({ auth: { jwt: { publicKey: rsa.publicPem, algorithms: ['HS256'] } } })
  assert.ok(hsWithKey.problems.some((p) => p.path === 'auth.jwt.algorithms[0]' && /needs secret/.test(p.message)))
})

test('secret beside a publicKey: each token\'s alg picks its key; HS256 signed with the public key PEM as HMAC secret is 401', async (t) => {
  const { SECRET, signHs } = await import('./fixtures.ts')
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' },
  ], { auth: { jwt: { secret: SECRET, publicKey: rsa.publicPem, issuer: ISSUER, audience: AUDIENCE, forwardAuthorization: false } } }),
  { listen: true })
  const call = (token: string) => fetch(`${gw.url}/api/users/1`, { headers: bearer(token) })

  assert.equal((await call(signHs(claims({ sub: 'dev' })))).status, 200, 'HS256 verifies with the secret')
  assert.equal((await call(signWith(rsa, claims({ sub: 'idp' })))).status, 200, 'RS256 verifies with the public key')
  assert.deepEqual(up.requests.map((r) => [r.headers['x-consumer-id'], r.headers.authorization]), [['dev', undefined], ['idp', undefined]],
    'forwardAuthorization: false holds for both kinds')

  // The public key (every spelling of it) as an HMAC secret: the secret is the only HMAC key.
  const der = rsa.publicKey.export({ type: 'spki', format: 'der' })
  for (const key of [rsa.publicPem, rsa.publicPem.trim(), der]) {
    const forged = hmacToken({ alg: 'HS256', typ: 'JWT' }, claims({ scope: 'users:read' }), key)
    const res = await call(forged)
    assert.equal(res.status, 401)
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="gatehouse", error="invalid_token"')
  }
  // And the secret as an "RS256" key.
  assert.equal((await call(hmacToken({ alg: 'RS256', typ: 'JWT' }, claims(), SECRET))).status, 401)
  assert.equal(up.requests.length, 2)
})
