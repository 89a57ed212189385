import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { baseConfig } from '../helpers/gateway.ts'
import type { JwksOptions } from '../../plugins/auth/jwks.ts'
import { waitFor } from '../helpers/wait.ts'
import {
  AUDIENCE, bearer, claims, createAuthGateway, createJwksServer, ecKeyPair, hmacToken, ISSUER, jwkOf, rsaKeyPair, signWith,
} from './fixtures.ts'

const keyA = rsaKeyPair()
const keyB = rsaKeyPair()

async function setup (t: TestContext, jwksUrl: string, jwks: Partial<JwksOptions> = {}, listen = false) {
  const up = await createUpstream(t)
  const raw = baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' },
  ], {
    logging: { level: 'info', access: false },
    auth: { jwt: { jwksUrl, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256', 'ES256'] } },
  })
  const gw = await createAuthGateway(t, raw, { listen, build: { auth: { jwks } } })
  return { up, gw, raw }
}

const tokenA = () => signWith(keyA, claims(), { kid: 'a' })
const tokenB = () => signWith(keyB, claims(), { kid: 'b' })

test('a token whose kid is in the JWKS is accepted; the set is fetched once, at start', async (t) => {
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a')])
  const { up, gw } = await setup(t, jwks.url)
  assert.equal(jwks.hits, 1)
  for (let i = 0; i < 3; i++) {
    const res = await gw.inject({ url: '/api/users/1', headers: bearer(tokenA()) })
    assert.equal(res.statusCode, 200)
  }
  assert.equal(up.requests.length, 3)
  assert.equal(jwks.hits, 1)
})

test('unknown kid: 401, and forged kids cause no refresh storm within the cool-down', async (t) => {
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a')])
  const { up, gw } = await setup(t, jwks.url) // default cool-down: 30 s, start-up fetch included
  const forged = Array.from({ length: 25 }, (_, i) => signWith(keyB, claims(), { kid: `forged-${i}` }))
  const answers = await Promise.all(forged.map((token) => gw.inject({ url: '/api/users/1', headers: bearer(token) })))
  for (const res of answers) {
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="gatehouse", error="invalid_token"')
  }
  assert.equal(jwks.hits, 1, 'only the start-up fetch')
  assert.equal(up.requests.length, 0)
})

test('JWKS rotation: a new kid is accepted once the JWKS serves it (one re-fetch per cool-down)', async (t) => {
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a')])
  const cooldown = 2000
  const { up, gw } = await setup(t, jwks.url, { unknownKidCooldownMs: cooldown })
  const startedAt = performance.now()
  jwks.keys = [jwkOf(keyA, 'a'), jwkOf(keyB, 'b')]

  // Within the cool-down counted from the start-up fetch: refused without a fetch.
  const early = await gw.inject({ url: '/api/users/1', headers: bearer(tokenB()) })
  assert.ok(performance.now() - startedAt < cooldown, 'the machine was too slow for this check')
  assert.equal(early.statusCode, 401)
  assert.equal(jwks.hits, 1)

  // After it: the first request with the new kid re-fetches and passes. (Bounded poll:
  // the cool-down is time-based state.)
  await waitFor('the new kid to pass after the cool-down', async () =>
    (await gw.inject({ url: '/api/users/1', headers: bearer(tokenB()) })).statusCode === 200, cooldown + 3000)
  assert.equal(jwks.hits, 2, 'exactly one re-fetch')
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(tokenA()) })).statusCode, 200, 'the old key still works')
  assert.equal(up.requests.length, 2)
})

test('the JWKS is re-fetched on its refresh interval, without any request', async (t) => {
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a')])
  const { gw } = await setup(t, jwks.url, { refreshIntervalMs: 100 })
  jwks.keys = [jwkOf(keyB, 'b')]
  await jwks.nextHit()
  // The refreshed set is installed once the fetch completes: bounded poll.
  let status = 0
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = (await gw.inject({ url: '/api/users/1', headers: bearer(tokenB()) })).statusCode
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.equal(status, 200)
})

test('a key removed from the JWKS stops verifying at the next fetch', async (t) => {
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a'), jwkOf(keyB, 'b')])
  const { gw } = await setup(t, jwks.url, { unknownKidCooldownMs: 0 })
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(tokenA()) })).statusCode, 200)
  jwks.keys = [jwkOf(keyB, 'b')]
  // Any unknown kid triggers the fetch (cool-down 0 here).
  const probe = signWith(keyB, claims(), { kid: 'c' })
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(probe) })).statusCode, 401)
  assert.equal(jwks.hits, 2)
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(tokenA()) })).statusCode, 401)
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(tokenB()) })).statusCode, 200)
})

test('JWKS down (hanging): a cached kid keeps working, an unknown kid gets 401 within 1 s', async (t) => {
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a')])
  // Cool-down 0 so the unknown kid really waits on a fetch; the fetch itself hangs.
  const { up, gw } = await setup(t, jwks.url, { unknownKidCooldownMs: 0 }, true)
  jwks.mode = 'hang'

  const cached = await request(`${gw.url}/api/users/1`, { headers: bearer(tokenA()), signal: AbortSignal.timeout(1000) })
  assert.equal(cached.statusCode, 200)
  await cached.body.dump()

  const fetched = jwks.nextHit()
  // Rejects with a TimeoutError if the gateway holds the request for a second or more.
  const unknown = await request(`${gw.url}/api/users/1`, { headers: bearer(tokenB()), signal: AbortSignal.timeout(1000) })
  assert.equal(unknown.statusCode, 401)
  assert.equal((await unknown.body.json() as { code: string }).code, 'GW_UNAUTHORIZED')
  await fetched // the bounded wait was on a real fetch attempt, not a shortcut
  assert.equal(up.requests.length, 1)

  // Still serving cached keys while the JWKS hangs.
  const again = await request(`${gw.url}/api/users/1`, { headers: bearer(tokenA()), signal: AbortSignal.timeout(1000) })
  assert.equal(again.statusCode, 200)
  await again.body.dump()
})

test('unknown kids arriving together share one JWKS fetch', async (t) => {
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a')])
  const { gw } = await setup(t, jwks.url, { unknownKidCooldownMs: 0, unknownKidWaitMs: 300 })
  jwks.mode = 'hang'
  const forged = Array.from({ length: 20 }, (_, i) => signWith(keyA, claims(), { kid: `x${i}` }))
  const answers = await Promise.all(forged.map((token) => gw.inject({ url: '/api/users/1', headers: bearer(token) })))
  assert.deepEqual(new Set(answers.map((r) => r.statusCode)), new Set([401]))
  assert.equal(jwks.hits, 2, 'start-up + one shared re-fetch')
})

test('JWKS unreachable at start-up: logged, not fatal; keys load once it answers', async (t) => {
  const port = await closedPort()
  const dead = await setup(t, `http://127.0.0.1:${port}/jwks.json`)
  assert.ok(dead.gw.logs.some((l) => l.msg === 'JWKS fetch failed; cached keys stay in use' && l.reason === 'start'))
  assert.equal((await dead.gw.inject({ url: '/api/users/1', headers: bearer(tokenA()) })).statusCode, 401)

  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a')])
  jwks.mode = 'error'
  const { up, gw } = await setup(t, jwks.url, { unknownKidCooldownMs: 0 })
  assert.ok(gw.logs.some((l) => l.msg === 'JWKS fetch failed; cached keys stay in use' && /HTTP 500/.test(String(l.error))))
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(tokenA()) })).statusCode, 401)
  jwks.mode = 'ok'
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(tokenA()) })).statusCode, 200)
  assert.equal(up.requests.length, 1)
})

test('a symmetric (oct) key in the JWKS is never used as an HMAC secret', async (t) => {
  const secret = 'published-by-mistake-0123456789abcdef'
  const jwks = await createJwksServer(t, [
    { kty: 'oct', kid: 'h', k: Buffer.from(secret).toString('base64url'), alg: 'HS256' },
    jwkOf(keyA, 'a'),
  ])
  const { up, gw } = await setup(t, jwks.url)
  const forged = hmacToken({ alg: 'HS256', typ: 'JWT', kid: 'h' }, claims(), secret)
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(forged) })).statusCode, 401)
  // Nor is the RSA key, under its own kid.
  const confused = hmacToken({ alg: 'HS256', typ: 'JWT', kid: 'a' }, claims(), keyA.publicPem)
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(confused) })).statusCode, 401)
  assert.equal(up.requests.length, 0)
})

test('a JWK that names its alg verifies only that alg; kty decides the rest', async (t) => {
  const ec = ecKeyPair()
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a', { alg: 'RS512' }), jwkOf(ec, 'e')])
  const { up, gw } = await setup(t, jwks.url)
  // kid a is declared RS512 (and RS512 is not even in the allow-list): RS256 refused.
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(tokenA()) })).statusCode, 401)
  // kid e is an EC P-256 key: ES256 passes, an RS256 token claiming kid e does not.
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(signWith(ec, claims(), { kid: 'e', algorithm: 'ES256' })) })).statusCode, 200)
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(signWith(keyA, claims(), { kid: 'e' })) })).statusCode, 401)
  assert.equal(up.requests.length, 1)
})

test('a config reload keeps the JWKS cache (no re-fetch)', async (t) => {
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a')])
  const { gw } = await setup(t, jwks.url)
  const services = gw.gateway.ctx.config.services.map((s) => ({ ...s, scopes: ['users:read'] }))
  await gw.gateway.applyServices(services)
  assert.equal(jwks.hits, 1)
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(signWith(keyA, claims({ scope: 'users:read' }), { kid: 'a' })) })
  assert.equal(res.statusCode, 200)
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(tokenA()) })).statusCode, 403, 'the new generation applies the new scopes')
})
