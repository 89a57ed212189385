// The verify caches (the token memo in front of @fastify/jwt, and fast-jwt's per key
// behind it): they save work for repeated tokens and must never let a token through
// that a fresh check would refuse.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bearer, claims, signHs } from './fixtures.ts'
import { createAuthApp } from './bare-app.ts'

const SERVICE = [{ name: 'users', auth: 'required' as const }]

test('a cached token stops verifying once it expires (the cache never outlives exp)', async (t) => {
  let now = Date.now()
  t.mock.method(Date, 'now', () => now)
  const { app } = await createAuthApp(t, SERVICE)
  const token = signHs(claims({ iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 2 }))
  assert.equal((await app.inject({ url: '/users', headers: bearer(token) })).statusCode, 200)
  assert.equal((await app.inject({ url: '/users', headers: bearer(token) })).statusCode, 200, 'served again while valid')
  now += 3000
  const res = await app.inject({ url: '/users', headers: bearer(token) })
  assert.equal(res.statusCode, 401)
  assert.equal(res.json().detail, 'The bearer token has expired')
})

test('a rejected token is never cached as valid', async (t) => {
  const { app, seen } = await createAuthApp(t, SERVICE)
  assert.equal((await app.inject({ url: '/users', headers: bearer(signHs(claims())) })).statusCode, 200)
  // Same header as the cached valid token, signed with another secret: refused every time.
  const bad = signHs(claims({ sub: 'mallory' }), 'another-secret-0123456789abcdef')
  for (let i = 0; i < 3; i++) assert.equal((await app.inject({ url: '/users', headers: bearer(bad) })).statusCode, 401)
  assert.deepEqual(seen.map((s) => s.consumer), ['alice'])
})

test('a forged token carrying the signature of a cached valid token is verified, not served from the cache', async (t) => {
  const { app, seen } = await createAuthApp(t, SERVICE)
  const valid = signHs(claims())
  assert.equal((await app.inject({ url: '/users', headers: bearer(valid) })).statusCode, 200)
  // Same header and signature (the tail a weak cache key would use), another payload.
  const [header, , signature] = valid.split('.')
  const forged = [header, Buffer.from(JSON.stringify(claims({ sub: 'mallory' }))).toString('base64url'), signature].join('.')
  assert.equal(forged.slice(-16), valid.slice(-16))
  assert.equal((await app.inject({ url: '/users', headers: bearer(forged) })).statusCode, 401)
  // And the valid one is still served.
  assert.equal((await app.inject({ url: '/users', headers: bearer(valid) })).statusCode, 200)
  assert.deepEqual(seen.map((s) => s.consumer), ['alice', 'alice'])
})

test('a repeated token is verified once: later requests are answered from its key\'s verifier cache', async (t) => {
  // @fastify/jwt keeps a verifier (and its cache) per key string only when jwtVerify is
  // called without options; otherwise it builds a verifier, with an empty cache, per
  // call. A cache hit hands back the claims object of the first check, so the identity
  // derived from it (request.user) is the very same object.
  const { app, seen } = await createAuthApp(t, SERVICE)
  const token = signHs(claims())
  for (let i = 0; i < 3; i++) assert.equal((await app.inject({ url: '/users', headers: bearer(token) })).statusCode, 200)
  assert.equal(seen.length, 3)
  assert.ok(seen[0]!.user !== null && typeof seen[0]!.user === 'object')
  assert.equal(seen[1]!.user, seen[0]!.user)
  assert.equal(seen[2]!.user, seen[0]!.user)
  // Another token is another identity.
  assert.equal((await app.inject({ url: '/users', headers: bearer(signHs(claims({ sub: 'bob' }))) })).statusCode, 200)
  assert.notEqual(seen[3]!.user, seen[0]!.user)
})

test('a repeated token skips @fastify/jwt entirely: one decode and key lookup, then the token memo answers', async (t) => {
  const { app, seen, keys } = await createAuthApp(t, SERVICE)
  const lookups = t.mock.method(keys, 'keyFor')
  const token = signHs(claims())
  for (let i = 0; i < 5; i++) assert.equal((await app.inject({ url: '/users', headers: bearer(token) })).statusCode, 200)
  assert.equal(lookups.mock.callCount(), 1)
  assert.deepEqual(seen.map((s) => s.consumer), ['alice', 'alice', 'alice', 'alice', 'alice'])
  assert.ok(seen.every((s) => s.user === seen[0]!.user), 'request.user is set on a memo hit too')
  // Another token is looked up on its own.
  assert.equal((await app.inject({ url: '/users', headers: bearer(signHs(claims({ sub: 'bob' }))) })).statusCode, 200)
  assert.equal(lookups.mock.callCount(), 2)
})
