import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createHmac } from 'node:crypto'
import { request } from 'undici'
import { createUpstream } from '../../helpers/upstream.ts'
import { baseConfig, createGateway, type TestGateway } from '../../helpers/gateway.ts'
import { resolveConfig } from '../../../apps/gateway/config/index.ts'
import { AUDIENCE, bearer, claims, createJwksServer, hmacToken, ISSUER, jwkOf, rsaKeyPair, signHs, signWith, unsignedToken } from '../../auth/fixtures.ts'
import { expectHealthy } from './helpers.ts'

// Advisories of fast-jwt (auth) (how they are tested: ./helpers.ts).

const rsa = rsaKeyPair()

async function authGateway (t: TestContext, jwt: Record<string, unknown>) {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' },
  ], { auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, ...jwt } } }), { listen: true })
  return { up, gw }
}

async function expectRejected (gw: TestGateway, token: string, what: string) {
  const res = await request(`${gw.url}/api/users/1`, { headers: bearer(token) })
  const body = await res.body.json() as { code: string }
  assert.equal(res.statusCode, 401, what)
  assert.equal(body.code, 'GW_UNAUTHORIZED', what)
}

test('CVE-2023-48223 (fast-jwt RS/HS key confusion): an HS256 token signed with the RSA public key is refused', async (t) => {
  // GHSA id not named in the installed package; fast-jwt's src/crypto.js names the CVE.
  for (const jwt of [{ publicKey: rsa.publicPem, algorithms: ['RS256'] },
    { secret: 'a-real-shared-secret-0123456789abcdef', publicKey: rsa.publicPem, algorithms: ['HS256', 'RS256'] }]) {
    const { up, gw } = await authGateway(t, jwt)
    const der = rsa.publicKey.export({ type: 'spki', format: 'der' })
    for (const key of [rsa.publicPem, rsa.publicPem.trim(), der]) {
      await expectRejected(gw, hmacToken({ alg: 'HS256', typ: 'JWT' }, claims(), key), `HS256 with the public key (${Object.keys(jwt).join('+')})`)
    }
    assert.equal(up.requests.length, 0)
    await expectHealthy(gw, '/api/users/1', bearer(signWith(rsa)))
  }
})

test('GHSA-ww5h-9m49-7xx4 (fast-jwt): a public key file with bytes before the PEM header is never used as an HMAC secret', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-advisory-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // A key file with a comment line above the PEM block: the exact bytes an attacker would
  // use as the HMAC secret if the leading bytes hid the header from the key-type check.
  const text = '# identity signing key, rotated 2026-01\n' + rsa.publicPem
  const file = path.join(dir, 'jwt.pub')
  writeFileSync(file, text)
  const { up, gw } = await authGateway(t, { publicKey: file, algorithms: ['RS256'] })
  for (const [alg, key] of [['HS256', text], ['HS256', text.trim()], ['HS384', text], ['HS512', rsa.publicPem]] as const) {
    const header = { alg, typ: 'JWT' }
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`
    const forged = `${input}.${createHmac(`sha${alg.slice(2)}`, key).update(input).digest('base64url')}`
    await expectRejected(gw, forged, `${alg} keyed with the key file text`)
  }
  assert.equal(up.requests.length, 0)
  await expectHealthy(gw, '/api/users/1', bearer(signWith(rsa)))
})

test('GHSA-g3jj-5cmm-3hxx (fast-jwt): the public JWK / JWKS JSON is never used as an HMAC secret', async (t) => {
  const jwk = jwkOf(rsa, 'id-1', { alg: 'RS256' })
  const jwks = await createJwksServer(t, [jwk])
  const { up, gw } = await authGateway(t, { jwksUrl: jwks.url, algorithms: ['RS256'] })
  // Everything an attacker can read from the JWKS endpoint, as the HMAC key.
  for (const secret of [JSON.stringify(jwk), JSON.stringify({ keys: [jwk] }), JSON.stringify([jwk]), String(jwk.n)]) {
    for (const kid of ['id-1', undefined]) {
      await expectRejected(gw, hmacToken({ alg: 'HS256', typ: 'JWT', ...(kid ? { kid } : {}) }, claims(), secret), `HS256 keyed with ${secret.slice(0, 20)}...`)
    }
  }
  assert.equal(up.requests.length, 0)
  await expectHealthy(gw, '/api/users/1', bearer(signWith(rsa, claims(), { kid: 'id-1' })))
})

test('alg "none" (no advisory id: SPEC requirement, refused by fast-jwt and by config): unsigned tokens are refused in every spelling', async (t) => {
  for (const jwt of [{ secret: 'a-real-shared-secret-0123456789abcdef', algorithms: ['HS256'] }, { publicKey: rsa.publicPem, algorithms: ['RS256'] }]) {
    const { up, gw } = await authGateway(t, jwt)
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      await expectRejected(gw, unsignedToken(claims(), alg), `alg ${alg}`)
      // ...also with a signature part an unsigned-token check might ignore.
      await expectRejected(gw, unsignedToken(claims(), alg) + 'c2ln', `alg ${alg} with a trailing signature`)
    }
    assert.equal(up.requests.length, 0)
  }
  const refused = resolveConfig({ auth: { jwt: { secret: 'a-real-shared-secret-0123456789abcdef', algorithms: ['none'] } } })
  assert.equal(refused.config, null, 'algorithms: [none] is a config error')
})

test('GHSA-rp9m-7r4c-75qg (fast-jwt verify cache): a cached valid token does not let a forged signature over the same claims through', async (t) => {
  const secret = 'a-real-shared-secret-0123456789abcdef'
  const { up, gw } = await authGateway(t, { secret, algorithms: ['HS256'] })
  const good = signHs(claims({ sub: 'alice' }), secret)
  await expectHealthy(gw, '/api/users/1', bearer(good))
  // Same header and payload (the part a weak cache key would use), another signature.
  const [h, p] = good.split('.')
  await expectRejected(gw, `${h}.${p}.${'A'.repeat(43)}`, 'forged signature over cached claims')
  await expectRejected(gw, `${h}.${p}.`, 'empty signature over cached claims')
  // Two valid tokens are two identities.
  const bob = signHs(claims({ sub: 'bob' }), secret)
  await expectHealthy(gw, '/api/users/2', bearer(bob))
  assert.deepEqual(up.requests.map((r) => r.headers['x-consumer-id']), ['alice', 'bob'])
})
