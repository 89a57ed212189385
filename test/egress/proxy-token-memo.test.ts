// The verify caches behind Proxy-Authorization: the token memo answers a repeated token
// without verifying it again, and neither the memo nor fast-jwt's cache behind it lets
// through a token that a fresh check would refuse.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createKeySource } from '../../plugins/auth/index.ts'
import { createProxyAuthenticator } from '../../plugins/egress/identity.ts'
import { JWT } from '../auth/bare-app.ts'
import { AUDIENCE, claims, createJwksServer, ISSUER, jwkOf, rsaKeyPair, signHs, signWith } from '../auth/fixtures.ts'
import { connectVia, createEchoServer, createEgressGateway } from '../helpers/egress.ts'

// revision: stands in for the key source's (a JWKS fetch bumps it).
function authenticator (t: TestContext, revision?: () => number) {
  const keys = createKeySource(JWT, { info () {}, warn () {} } as never)
  t.after(() => keys.close())
  if (revision !== undefined) t.mock.method(keys, 'revision', revision)
  const lookups = t.mock.method(keys, 'keyFor')
  return { keys, lookups, auth: createProxyAuthenticator(keys) }
}

test('a repeated proxy token, as Bearer or as Basic, keeps the identity of its first check and its one key lookup', async (t) => {
  const { lookups, auth } = authenticator(t)
  const token = signHs(claims({ sub: 'svc-a' }))
  const headers = [`Bearer ${token}`, `Basic ${Buffer.from(`any:${token}`).toString('base64')}`]
  const seen: unknown[] = []
  for (let i = 0; i < 5; i++) {
    const verdict = await auth.verify(headers[i % 2])
    assert.ok('identity' in verdict, JSON.stringify(verdict))
    assert.equal(verdict.identity.consumer, 'svc-a')
    seen.push(verdict.identity)
  }
  assert.ok(seen.every((identity) => identity === seen[0]))
  assert.equal(lookups.mock.callCount(), 1)
  const other = await auth.verify(`Bearer ${signHs(claims({ sub: 'svc-b' }))}`)
  assert.ok('identity' in other && other.identity.consumer === 'svc-b', 'another token is verified on its own')
  assert.equal(lookups.mock.callCount(), 2)
})

test('a memoised proxy token stops opening tunnels once it expires (the memo never outlives exp)', async (t) => {
  let now = Date.now()
  t.mock.method(Date, 'now', () => now)
  const { auth } = authenticator(t)
  const token = signHs(claims({ sub: 'svc-a', iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 2 }))
  assert.ok('identity' in await auth.verify(`Bearer ${token}`))
  assert.ok('identity' in await auth.verify(`Bearer ${token}`), 'served again while valid')
  now += 3000
  assert.deepEqual(await auth.verify(`Bearer ${token}`), { refused: 'The proxy token has expired' })
})

test('a forged proxy token carrying the signature of a memoised one is verified, not served from the memo', async (t) => {
  const { auth } = authenticator(t)
  const valid = signHs(claims({ sub: 'svc-a' }))
  assert.ok('identity' in await auth.verify(`Bearer ${valid}`))
  const [header, , signature] = valid.split('.')
  const forged = [header, Buffer.from(JSON.stringify(claims({ sub: 'mallory' }))).toString('base64url'), signature].join('.')
  assert.equal(forged.slice(-16), valid.slice(-16))
  assert.deepEqual(await auth.verify(`Bearer ${forged}`), { refused: 'The proxy token is invalid' })
  const again = await auth.verify(`Bearer ${valid}`)
  assert.ok('identity' in again && again.identity.consumer === 'svc-a')
})

test('a proxy token refused once is refused every time (only verified tokens are memoised)', async (t) => {
  const { auth } = authenticator(t)
  assert.ok('identity' in await auth.verify(`Bearer ${signHs(claims({ sub: 'svc-a' }))}`))
  const bad = signHs(claims({ sub: 'svc-a' }), 'another-secret-0123456789abcdef')
  for (let i = 0; i < 3; i++) assert.deepEqual(await auth.verify(`Bearer ${bad}`), { refused: 'The proxy token is invalid' })
})

test('a new key set (a JWKS fetch) has memoised proxy tokens verified again, with their key looked up anew', async (t) => {
  let revision = 1
  const { lookups, auth } = authenticator(t, () => revision)
  const token = signHs(claims({ sub: 'svc-a' }))
  assert.ok('identity' in await auth.verify(`Bearer ${token}`))
  assert.ok('identity' in await auth.verify(`Bearer ${token}`))
  assert.equal(lookups.mock.callCount(), 1)
  revision = 2
  assert.ok('identity' in await auth.verify(`Bearer ${token}`))
  // Not answered from fast-jwt's cache of the old set either: the key was asked for.
  assert.equal(lookups.mock.callCount(), 2)
})

test('a key removed from the JWKS stops opening tunnels at the next fetch (no cache keeps its tokens alive)', async (t) => {
  const keyA = rsaKeyPair()
  const keyB = rsaKeyPair()
  const jwks = await createJwksServer(t, [jwkOf(keyA, 'a'), jwkOf(keyB, 'b')])
  const echo = await createEchoServer(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [echo.port] }], allowNetworks: ['127.0.0.1/32'] }, {
    extra: { auth: { jwt: { jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] } } },
    build: { auth: { jwks: { unknownKidCooldownMs: 0 } } },
  })
  const target = `127.0.0.1:${echo.port}`
  const proxy = (token: string) => ({ 'Proxy-Authorization': `Bearer ${token}` })
  const tokenA = signWith(keyA, claims({ sub: 'svc-a' }), { kid: 'a' })
  for (let i = 0; i < 2; i++) assert.equal((await connectVia(t, gw.egressUrl, target, proxy(tokenA))).status, 200)
  jwks.keys = [jwkOf(keyB, 'b')]
  // An unknown kid makes the gateway fetch the set again (cool-down 0 here).
  assert.equal((await connectVia(t, gw.egressUrl, target, proxy(signWith(keyB, claims(), { kid: 'c' })))).status, 407)
  assert.equal(jwks.hits, 2)
  assert.equal((await connectVia(t, gw.egressUrl, target, proxy(tokenA))).status, 407)
  assert.equal((await connectVia(t, gw.egressUrl, target, proxy(signWith(keyB, claims({ sub: 'svc-b' }), { kid: 'b' })))).status, 200)
})
