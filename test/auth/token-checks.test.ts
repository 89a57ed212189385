import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { authFailures, bearer, claims, hmacToken, hsAuth, signHs, unsignedToken, SECRET } from './fixtures.ts'

const INVALID = 'Bearer realm="gatehouse", error="invalid_token"'

async function setup (t: TestContext, opts: { listen?: boolean, jwt?: Record<string, unknown>, logging?: Record<string, unknown> } = {}) {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' },
  ], { ...hsAuth(opts.jwt), ...(opts.logging ? { logging: opts.logging } : {}) }), { listen: opts.listen })
  return { up, gw }
}

function assertProblem (res: { statusCode: number, headers: Record<string, unknown>, json: () => unknown }, status: number, code: string) {
  assert.equal(res.statusCode, status)
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
  const body = res.json() as { code: string, status: number }
  assert.equal(body.code, code)
  assert.equal(body.status, status)
}

test('a valid HS256 token reaches the upstream with X-Consumer-Id and X-Consumer-Scopes', async (t) => {
  const { up, gw } = await setup(t)
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ scope: 'users:read orders:read' }))) })
  assert.equal(res.statusCode, 200)
  const h = up.requests[0]!.headers
  assert.equal(h['x-consumer-id'], 'alice')
  assert.equal(h['x-consumer-scopes'], 'users:read orders:read')
  assert.ok(String(h.authorization).startsWith('Bearer '), 'Authorization is forwarded by default')
})

test('missing token: 401 GW_UNAUTHORIZED with a bare Bearer challenge, upstream untouched', async (t) => {
  const { up, gw } = await setup(t)
  const res = await gw.inject({ url: '/api/users/1' })
  assertProblem(res, 401, 'GW_UNAUTHORIZED')
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="gatehouse"')
  assert.equal(up.requests.length, 0)
  assert.equal(await authFailures(gw, 'users', 'missing'), 1)
})

test('another auth scheme (Basic) counts as no bearer token', async (t) => {
  const { up, gw } = await setup(t)
  const res = await gw.inject({ url: '/api/users/1', headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })
  assertProblem(res, 401, 'GW_UNAUTHORIZED')
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="gatehouse"')
  assert.equal(up.requests.length, 0)
})

test('the Bearer scheme is case-insensitive', async (t) => {
  const { gw } = await setup(t)
  const res = await gw.inject({ url: '/api/users/1', headers: { authorization: `bearer ${signHs()}` } })
  assert.equal(res.statusCode, 200)
})

test('alg "none" (unsigned token) is refused', async (t) => {
  const { up, gw } = await setup(t)
  for (const alg of ['none', 'None', 'NONE']) {
    const res = await gw.inject({ url: '/api/users/1', headers: bearer(unsignedToken(claims(), alg)) })
    assertProblem(res, 401, 'GW_UNAUTHORIZED')
    assert.equal(res.headers['www-authenticate'], INVALID)
  }
  // An HS256 header with the signature stripped is no better.
  const stripped = signHs().split('.').slice(0, 2).join('.') + '.'
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(stripped) })).statusCode, 401)
  assert.equal(up.requests.length, 0)
  assert.equal(await authFailures(gw, 'users', 'invalid'), 4)
})

test('a token signed with another secret is refused', async (t) => {
  const { up, gw } = await setup(t)
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims(), 'not-the-secret-0123456789abcdef')) })
  assertProblem(res, 401, 'GW_UNAUTHORIZED')
  assert.equal(up.requests.length, 0)
})

test('an HS512 token is refused when only HS256 is allowed', async (t) => {
  const { up, gw } = await setup(t)
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims(), SECRET, 'HS512')) })
  assertProblem(res, 401, 'GW_UNAUTHORIZED')
  assert.equal(up.requests.length, 0)
})

test('expired token: 401 invalid_token, counted as reason "expired"', async (t) => {
  const { up, gw } = await setup(t)
  const now = Math.floor(Date.now() / 1000)
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ iat: now - 120, exp: now - 60 }))) })
  assertProblem(res, 401, 'GW_UNAUTHORIZED')
  assert.equal(res.headers['www-authenticate'], INVALID)
  assert.match((res.json() as { detail: string }).detail, /expired/)
  assert.equal(up.requests.length, 0)
  assert.equal(await authFailures(gw, 'users', 'expired'), 1)
})

test('clockTolerance: a token expired less than the tolerance ago still passes', async (t) => {
  const { gw } = await setup(t, { jwt: { clockTolerance: '30s' } })
  const now = Math.floor(Date.now() / 1000)
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ iat: now - 60, exp: now - 10 }))) })
  assert.equal(res.statusCode, 200)
})

test('nbf in the future: 401 until the token becomes valid', async (t) => {
  const { up, gw } = await setup(t)
  const now = Math.floor(Date.now() / 1000)
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ nbf: now + 600 }))) })
  assertProblem(res, 401, 'GW_UNAUTHORIZED')
  assert.equal(res.headers['www-authenticate'], INVALID)
  assert.equal(up.requests.length, 0)
})

test('wrong iss, and a missing iss when an issuer is configured, are refused', async (t) => {
  const { up, gw } = await setup(t)
  const wrong = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ iss: 'someone-else' }))) })
  assertProblem(wrong, 401, 'GW_UNAUTHORIZED')
  const { iss: _iss, ...noIss } = claims()
  const missing = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(noIss)) })
  assertProblem(missing, 401, 'GW_UNAUTHORIZED')
  assert.equal(up.requests.length, 0)
})

test('wrong aud, and a missing aud when an audience is configured, are refused', async (t) => {
  const { up, gw } = await setup(t)
  const wrong = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ aud: 'other-api' }))) })
  assertProblem(wrong, 401, 'GW_UNAUTHORIZED')
  const { aud: _aud, ...noAud } = claims()
  const missing = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(noAud)) })
  assertProblem(missing, 401, 'GW_UNAUTHORIZED')
  // An aud array is fine when it names us.
  const list = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ aud: ['other-api', 'gatehouse'] }))) })
  assert.equal(list.statusCode, 200)
  assert.equal(up.requests.length, 1)
})

test('a token in the query string is ignored (401 as if none was sent)', async (t) => {
  const { up, gw } = await setup(t)
  const token = signHs()
  for (const name of ['access_token', 'token', 'jwt']) {
    const res = await gw.inject({ url: `/api/users/1?${name}=${token}` })
    assertProblem(res, 401, 'GW_UNAUTHORIZED')
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="gatehouse"')
  }
  assert.equal(up.requests.length, 0)
})

test('a 16 KB token is refused with 401, not 431 or 500', async (t) => {
  const { up, gw } = await setup(t)
  const huge = signHs(claims({ pad: 'x'.repeat(16 * 1024) }))
  assert.ok(huge.length > 16 * 1024)
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(huge) })
  assertProblem(res, 401, 'GW_UNAUTHORIZED')
  assert.equal(res.headers['www-authenticate'], INVALID)
  assert.equal(up.requests.length, 0)
})

test('an oversized token that fits the header block is refused with 401 over a real socket', async (t) => {
  const { up, gw } = await setup(t, { listen: true })
  const big = signHs(claims({ pad: 'x'.repeat(10 * 1024) })) // > 8 KB token limit, < 16 KiB header block
  const res = await request(`${gw.url}/api/users/1`, { headers: bearer(big) })
  assert.equal(res.statusCode, 401)
  assert.equal((await res.body.json() as { code: string }).code, 'GW_UNAUTHORIZED')
  assert.equal(up.requests.length, 0)
})

test('garbage and empty bearer tokens are 401 invalid_token', async (t) => {
  const { up, gw } = await setup(t)
  for (const value of ['Bearer', 'Bearer ', 'Bearer abc', 'Bearer a.b.c', 'Bearer ....', `Bearer ${'%'.repeat(50)}`]) {
    const res = await gw.inject({ url: '/api/users/1', headers: { authorization: value } })
    assertProblem(res, 401, 'GW_UNAUTHORIZED')
    assert.equal(res.headers['www-authenticate'], INVALID, value)
  }
  assert.equal(up.requests.length, 0)
})

test('a sub with control characters cannot be smuggled into X-Consumer-Id', async (t) => {
  const { up, gw } = await setup(t)
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ sub: 'alice\r\nx-consumer-scopes: admin' }))) })
  assertProblem(res, 401, 'GW_UNAUTHORIZED')
  assert.equal(up.requests.length, 0)
})

test('a token signed with the secret but a forged header (kid, jku) is still only HMAC-checked with the secret', async (t) => {
  const { up, gw } = await setup(t)
  const forged = hmacToken({ alg: 'HS256', typ: 'JWT', kid: '../../dev/null', jku: 'http://evil.example/jwks' }, claims(), 'attacker-key')
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(forged) })
  assertProblem(res, 401, 'GW_UNAUTHORIZED')
  assert.equal(up.requests.length, 0)
})

test('tokens never appear in logs, accepted or rejected', async (t) => {
  const { gw } = await setup(t, { logging: { level: 'debug', access: true } })
  const good = signHs()
  const bad = signHs(claims(), 'wrong-secret-0123456789abcdefgh')
  const expired = signHs(claims({ exp: Math.floor(Date.now() / 1000) - 60 }))
  await gw.inject({ url: '/api/users/1', headers: bearer(good) })
  await gw.inject({ url: '/api/users/1', headers: bearer(bad) })
  await gw.inject({ url: '/api/users/1', headers: bearer(expired) })
  await gw.inject({ url: `/api/users/1?access_token=${good}` })
  assert.ok(gw.logs.some((l) => l.consumer === 'alice'), 'the access log ran (else this test proves nothing)')
  for (const token of [good, bad, expired]) {
    const signature = token.split('.')[2]!
    for (const line of gw.rawLogs) {
      assert.ok(!line.includes(signature), `a token leaked into the log: ${line.slice(0, 200)}`)
    }
  }
})
