import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bearer, claims, signHs } from './fixtures.ts'
import { createAuthApp } from './bare-app.ts'

test('the auth plugin alone on a bare Fastify instance: 401 without a token or with a bad one, 200 with a valid one', async (t) => {
  const { app, seen, failures } = await createAuthApp(t, [{ name: 'users', auth: 'required', scopes: ['users:read'] }])

  const missing = await app.inject({ url: '/users' })
  assert.equal(missing.statusCode, 401)
  assert.match(String(missing.headers['content-type']), /^application\/problem\+json/)
  assert.equal(missing.headers['www-authenticate'], 'Bearer realm="gatehouse"')
  assert.equal(missing.json().code, 'GW_UNAUTHORIZED')

  const forged = await app.inject({ url: '/users', headers: bearer(signHs(claims({ scope: 'users:read' }), 'another-secret-0123456789abcdef')) })
  assert.equal(forged.statusCode, 401)
  assert.equal(forged.headers['www-authenticate'], 'Bearer realm="gatehouse", error="invalid_token"')
  assert.equal(forged.json().code, 'GW_UNAUTHORIZED')

  const expired = await app.inject({ url: '/users', headers: bearer(signHs(claims({ scope: 'users:read', exp: Math.floor(Date.now() / 1000) - 60 }))) })
  assert.equal(expired.statusCode, 401)
  assert.equal(expired.json().detail, 'The bearer token has expired')

  const ok = await app.inject({ url: '/users', headers: bearer(signHs(claims({ scope: 'users:read users:write' }))) })
  assert.equal(ok.statusCode, 200)
  assert.equal(ok.body, 'ok')
  assert.deepEqual(seen.map((s) => [s.consumer, s.scopes]), [['alice', 'users:read users:write']], 'only the valid token reached the route')

  assert.equal(await failures('users', 'missing'), 1)
  assert.equal(await failures('users', 'invalid'), 1)
  assert.equal(await failures('users', 'expired'), 1)
})
