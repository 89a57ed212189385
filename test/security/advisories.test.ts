// One regression test per published advisory against our proxy stack that applies to a
// gateway, named after its GHSA id where the installed package names it (its own test,
// source comment or changelog), after the CVE or the vulnerability otherwise (see
// docs/security.md, "Dependency advisories"). Each drives the real gateway (createGateway,
// real upstream) with the exploit and asserts it fails, then that a normal request
// through the same gateway still answers 200.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createHmac } from 'node:crypto'
import type net from 'node:net'
import { request } from 'undici'
import { createUpstream, type Upstream } from '../helpers/upstream.ts'
import { createRawUpstream } from '../helpers/raw-upstream.ts'
import { baseConfig, createGateway, type TestGateway } from '../helpers/gateway.ts'
import { rawRequest } from '../helpers/raw-http.ts'
import { resolveConfig } from '../../apps/gateway/config/index.ts'
import {
  AUDIENCE, bearer, claims, createJwksServer, hmacToken, hsAuth, ISSUER, jwkOf, rsaKeyPair, signHs, signWith, unsignedToken,
} from '../auth/fixtures.ts'
import { redisRateLimit } from '../rate-limit/helpers.ts'
import { redisTestOptions, testRedis } from '../helpers/redis.ts'

const ROOT = new URL('../../', import.meta.url).pathname
const rsa = rsaKeyPair()

// ---- helpers --------------------------------------------------------------------------

function get (url: string, payload: string) {
  return rawRequest(url, `GET ${payload} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
}

async function expectHealthy (gw: TestGateway, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${gw.url}${path}`, { headers })
  await res.body.dump()
  assert.equal(res.statusCode, 200, 'a normal request through the same gateway still answers 200')
}

// The path an upstream would serve for this target: its dot segments resolved as an
// HTTP server resolves them (WHATWG: `%2e` is a dot). `%2F` and `%5C` are data inside a
// segment (SPEC: forwarded as they came), so they are not decoded into separators here.
// Used to prove no request escaped the prefix it was sent under.
function servedPath (url: string): string {
  return new URL(url.split('?')[0]!, 'http://upstream.invalid').pathname
}

function assertUnder (up: Upstream | { requests: Array<{ url: string }> }, base: string, what = 'upstream served') {
  for (const r of up.requests) {
    const served = servedPath(r.url)
    assert.ok(served === base || served.startsWith(base + '/'), `${what} ${r.url} (= ${served}) outside ${base}`)
  }
}

// ---- @fastify/reply-from --------------------------------------------------------------

test('GHSA-2q7r-29rg-6m5h (reply-from): %2E%2E in the path cannot escape the upstream base path (rewritePrefix)', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rewritePrefix: '/users' },
  ]), { listen: true })
  // reply-from's own regression: `/ho/%2E%2E/hi` under base `/hi/`. Through the gateway the
  // dot segments are resolved before routing, so these leave the users prefix (404); none
  // may reach the upstream outside /users.
  const attacks: Array<[string, number]> = [
    ['/api/users/%2E%2E/internal', 404],
    ['/api/users/%2e%2e/internal', 404],
    ['/api/users/%2E%2E/%2E%2E/internal', 404],
    ['/api/users/x/%2E%2E/%2E%2E/%2E%2E/internal', 404],
  ]
  for (const [target, status] of attacks) {
    const res = await get(gw.url!, target)
    assert.equal(res.status, status, target)
  }
  assert.equal(up.requests.length, 0, 'nothing reached the upstream')
  // `%2F` / `%5C` are data inside one segment (SPEC): such a segment is no dot segment,
  // it stays under the base path, forwarded as it came (its `%2E` sent as the dot it is).
  for (const [target, forwarded] of [['/api/users/..%2Finternal', '/users/..%2Finternal'],
    ['/api/users/%2E%2E%2Finternal', '/users/..%2Finternal'], ['/api/users/%2E%2E%5Cinternal', '/users/..%5Cinternal']]) {
    const res = await get(gw.url!, target)
    assert.equal(res.status, 200, target)
    assert.equal(up.requests.at(-1)!.url, forwarded, target)
  }
  assertUnder(up, '/users')
  await expectHealthy(gw, '/api/users/7')
  assert.equal(up.requests.at(-1)!.url, '/users/7')
})

test('reply-from Connection-header stripping (advisory fixed by reply-from 12.6.4; no GHSA id in the installed package): a client Connection header cannot strip the headers the gateway sets', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' },
  ], hsAuth()), { listen: true })
  const token = signHs(claims({ scope: 'users:read users:write' }))
  const gatewayHeaders = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-prefix',
    'x-request-id', 'traceparent', 'x-consumer-id', 'x-consumer-scopes']
  // Raw bytes: no client library gets to drop or merge the Connection header first.
  const res = await rawRequest(gw.url!, 'GET /api/users/1 HTTP/1.1\r\nHost: public.example\r\n' +
    `Authorization: Bearer ${token}\r\n` +
    `Connection: close, ${gatewayHeaders.join(', ')}, X-Client-Hop\r\n` +
    'X-Client-Hop: dropped\r\nX-Consumer-Id: mallory\r\n\r\n')
  assert.equal(res.status, 200)
  const h = up.requests.at(-1)!.headers
  assert.equal(h['x-client-hop'], undefined, 'a header the client named in Connection is still dropped')
  assert.equal(h['x-forwarded-for'], '127.0.0.1')
  assert.equal(h['x-forwarded-proto'], 'http')
  assert.equal(h['x-forwarded-host'], 'public.example')
  assert.equal(h['x-forwarded-prefix'], '/api/users')
  assert.equal(h['x-request-id'], res.headers['x-request-id'])
  assert.match(String(h.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
  assert.equal(h['x-consumer-id'], 'alice', 'identity comes from the token, not from the client')
  assert.equal(h['x-consumer-scopes'], 'users:read users:write')
  assert.equal(h.connection, 'keep-alive', 'the client Connection header itself is not forwarded')
  await expectHealthy(gw, '/api/users/2', bearer(token))
})

test('GHSA-v2v2-hph8-q5xp (reply-from): a body with a padded JSON content type reaches the upstream byte for byte, never re-serialised', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }]), { listen: true })
  // The advisory: reply-from parsed this JSON *string* and sent the object it contained,
  // so the upstream acted on a body the front end had validated as something else.
  const body = '"{\\"method\\":\\"invalid_method\\"}"'
  for (const contentType of ['application/json ; charset=utf-8', 'application/json', 'Application/JSON;charset=utf-8']) {
    const res = await request(`${gw.url}/api/users/rpc`, { method: 'POST', headers: { 'content-type': contentType }, body })
    await res.body.dump()
    assert.equal(res.statusCode, 200)
    const seen = up.requests.at(-1)!
    assert.equal(seen.body.toString(), body, contentType)
    assert.equal(seen.headers['content-type'], contentType)
  }
  await expectHealthy(gw, '/api/users/1')
})

// ---- @fastify/http-proxy --------------------------------------------------------------

test('GHSA-7hrw-592w-9wh2 (http-proxy): prefix-escape vectors, plain and as WebSocket upgrades, never leave the prefix or reach another origin', async (t) => {
  const up = await createUpstream(t)
  const attacker = await createUpstream(t)
  // Upgrade handshakes each upstream saw (a WebSocket-enabled service forwards them).
  const upgrades = new Map<Upstream, string[]>([[up, []], [attacker, []]])
  for (const [server, seen] of upgrades) {
    server.server.on('upgrade', (req, socket: net.Socket) => {
      seen.push(req.url!)
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')
    })
  }
  const gw = await createGateway(t, baseConfig([
    { name: 'pub', prefix: '/pub', upstreams: [up.origin], rewritePrefix: '/internal', websocket: true },
  ]), { listen: true })
  // The vectors of http-proxy's own regression test (test/ws-prefix-rewrite.js), and its
  // origin-override vector `/pub//host:port/...`.
  const vectors = [
    '/pub/../secret', '/pub/%2E%2E/secret', '/pub/%2e%2e/secret', '/pub/.%2E/secret', '/pub/%2E./secret',
    '/pub/../internality/secret', '/pub/%2E%2E/internality/secret', '/pub/dir\\..\\..\\internality/secret',
    '/pub/%/secret', '/pub/%5c..%5csecret', '/pub/%5C..%5Csecret', '/pub/%5c..%5c..%5csecret', '/pub/..%2F..%2Fsecret',
    `/pub//127.0.0.1:${attacker.port}/internal`, `/pub/http://127.0.0.1:${attacker.port}/internal`,
  ]
  const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
  for (const vector of vectors) {
    for (const extra of ['Connection: close\r\n', upgrade]) {
      const res = await rawRequest(gw.url!, `GET ${vector} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`)
      assert.ok(res.status < 500, `${vector} -> ${res.status}`)
    }
  }
  assert.equal(attacker.requests.length + upgrades.get(attacker)!.length, 0, 'no request reached another origin')
  assertUnder(up, '/internal')
  assertUnder({ requests: upgrades.get(up)!.map((url) => ({ url })) }, '/internal', 'a WebSocket upgrade handshake was forwarded to')
  await expectHealthy(gw, '/pub/ok')
})

// ---- fast-jwt (auth) ------------------------------------------------------------------

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

// ---- fastify / proxy-addr (client address) ---------------------------------------------

// Two services: `open` (anyone) and `partners` (only 203.0.113.0/24). A direct client
// from 127.0.0.1 tries to pass for a partner by writing X-Forwarded-* itself.
async function trustGateway (t: TestContext, trustProxy: false | string[]) {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'open', prefix: '/api/open', upstreams: [up.origin] },
    { name: 'partners', prefix: '/api/partners', upstreams: [up.origin], ipAccess: { allow: ['203.0.113.0/24'] } },
  ], { server: { trustProxy } }), { listen: true })
  return { up, gw }
}

const SPOOFED = {
  'x-forwarded-for': '203.0.113.5, 203.0.113.6, 203.0.113.7, 203.0.113.8, 203.0.113.9',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-prefix': '/evil',
}

async function expectSpoofIgnored (gw: TestGateway, up: Upstream) {
  const partners = await request(`${gw.url}/api/partners/1`, { headers: SPOOFED })
  assert.equal(partners.statusCode, 403, 'a spoofed X-Forwarded-For does not pass the partner allow-list')
  assert.equal((await partners.body.json() as { code: string }).code, 'GW_FORBIDDEN')
  const open = await request(`${gw.url}/api/open/1`, { headers: SPOOFED })
  await open.body.dump()
  const h = up.requests.at(-1)!.headers
  assert.equal(h['x-forwarded-proto'], 'http')
  assert.equal(h['x-forwarded-host'], new URL(gw.url!).host)
  assert.equal(h['x-forwarded-prefix'], '/api/open')
  assert.equal(h['x-forwarded-for'], `${SPOOFED['x-forwarded-for']}, 127.0.0.1`, 'the peer is appended, never replaced')
  assert.equal(up.requests.filter((r) => r.headers['x-forwarded-prefix'] === '/api/partners').length, 0)
}

test('GHSA-3m5p-2c4r-xxw2 (fastify, id from SPEC.md): a numeric or `true` trustProxy is refused by config', () => {
  for (const trustProxy of [1, 2, 10, true, '1', '127.0.0.1', ['0.0.0.0/0'], ['::/0']]) {
    const { config, problems } = resolveConfig({ server: { trustProxy } })
    assert.equal(config, null, `trustProxy ${JSON.stringify(trustProxy)} must be refused`)
    assert.ok(problems.some((p) => p.path.startsWith('server.trustProxy')), JSON.stringify(problems))
  }
  assert.notEqual(resolveConfig({ server: { trustProxy: ['127.0.0.1/32'] } }).config, null)
})

test('GHSA-3m5p-2c4r-xxw2 (fastify, id from SPEC.md): spoofed X-Forwarded-* with many hops from an untrusted peer are not trusted', async (t) => {
  for (const trustProxy of [false, ['10.0.0.0/8']] as const) {
    const { up, gw } = await trustGateway(t, trustProxy === false ? false : [...trustProxy])
    await expectSpoofIgnored(gw, up)
    await expectHealthy(gw, '/api/open/ok')
  }
})

test('GHSA-jqcg-44mw-7w3h (proxy-addr, @fastify/proxy-addr): an IPv6 trustProxy range never trusts an IPv4 peer through its mapped form', async (t) => {
  // ::/64 covers ::ffff:127.0.0.1 when IPv4 peers are compared in IPv4-mapped form.
  for (const range of ['::/64', '::/80']) {
    const { up, gw } = await trustGateway(t, [range])
    await expectSpoofIgnored(gw, up)
    await expectHealthy(gw, '/api/open/ok')
  }
})

// ---- @fastify/rate-limit ----------------------------------------------------------------

test('@fastify/rate-limit IPv6 rotation (fixed in 11.2.0; no GHSA id in the installed package): addresses in one /64 share a budget', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix, keys } = await testRedis(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 2, window: '1m', by: 'ip' } },
  ], { server: { trustProxy: ['127.0.0.1/32'] }, rateLimit: redisRateLimit(prefix) }), { listen: true })
  // Real sockets through a trusted proxy (127.0.0.1) that reports each client's address.
  const from = async (ip: string) => {
    const res = await request(`${gw.url}/api/users/1`, { headers: { 'x-forwarded-for': ip } })
    await res.body.dump()
    return res.statusCode
  }
  assert.equal(await from('2001:db8:1:2::1'), 200)
  assert.equal(await from('2001:db8:1:2:ffff:ffff:ffff:fffe'), 200)
  for (const rotated of ['2001:db8:1:2:abcd::9', '2001:DB8:1:2:0:0:0:42', '2001:0db8:0001:0002::7']) {
    assert.equal(await from(rotated), 429, `${rotated} is the same client`)
  }
  assert.equal(await from('2001:db8:1:3::1'), 200, 'the next /64 is another client')
  assert.equal(await from('198.51.100.7'), 200)
  assert.equal(await from('::ffff:198.51.100.7'), 200, 'IPv4-mapped: the same IPv4 client')
  assert.equal(await from('198.51.100.7'), 429)
  assert.deepEqual(await keys(), [`${prefix}users:198.51.100.7`, `${prefix}users:2001:db8:1:2::`, `${prefix}users:2001:db8:1:3::`])
  assert.equal(await from('192.0.2.1'), 200, 'another client still gets through')
})

// ---- undici (upstream responses) --------------------------------------------------------

const POISON = 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned'
// Each first answer leaves bytes on the keep-alive socket that a desynchronised client
// would read as the answer to the *next* request (possibly another client's).
const DESYNC: Record<string, (socket: net.Socket) => void> = {
  'extra bytes after the body, same packet': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' + POISON),
  'extra bytes after the body, arriving next tick on the idle socket': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    setImmediate(() => s.write(POISON))
  },
  'Content-Length and Transfer-Encoding together': (s) =>
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${5 + POISON.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${POISON}`),
  'two different Content-Length headers': (s) =>
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: ${2 + POISON.length}\r\n\r\nok${POISON}`),
  'a chunked body followed by a second response': (s) =>
    s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n${POISON}`),
  '204 carrying a body': (s) => s.write(`HTTP/1.1 204 No Content\r\nContent-Length: ${POISON.length}\r\n\r\n${POISON}`),
}

for (const [name, firstAnswer] of Object.entries(DESYNC)) {
  test(`GHSA-35p6-xmwp-9g52 (undici response desync): ${name} never poisons the next request on the reused upstream socket`, async (t) => {
    const sockets: net.Socket[] = []
    const up = await createRawUpstream(t, (socket, _head, index) => {
      sockets[index] = socket
      if (index === 0) firstAnswer(socket)
      else socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nfresh-${index % 10}`)
    })
    const gw = await createGateway(t, baseConfig([
      { name: 'x', prefix: '/api/x', upstreams: [up.origin], retries: 0, circuitBreaker: false },
    ]), { listen: true })
    const first = await request(`${gw.url}/api/x/0`)
    const firstBody = await first.body.text().catch(() => '')
    assert.ok(!firstBody.includes('poisoned'))
    for (let i = 1; i <= 3; i++) {
      const res = await request(`${gw.url}/api/x/${i}`)
      assert.equal(res.statusCode, 200)
      assert.equal(await res.body.text(), `fresh-${i}`, 'each answer is the one to its own request')
    }
    assert.equal(up.requests.length, 4)
    for (let i = 1; i <= 3; i++) assert.notEqual(sockets[i], sockets[0], 'the poisoned socket was never reused')
  })
}

// ---- installed versions ------------------------------------------------------------------

// SPEC.md "Dependencies" floors, plus proxy-addr 2.0.8 (GHSA-jqcg-44mw-7w3h, its HISTORY.md).
const FLOORS: Record<string, string> = {
  fastify: '5.12.1',
  '@fastify/http-proxy': '11.4.4',
  '@fastify/reply-from': '12.6.4',
  '@fastify/jwt': '10.2.0',
  'fast-jwt': '6.3.1',
  '@fastify/rate-limit': '11.2.0',
  undici: '7.29.0',
  'proxy-addr': '2.0.8',
}

function compareSemver (a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?/.exec(v)
    if (m === null) throw new Error(`not a version: ${v}`)
    return { nums: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ?? null }
  }
  const x = parse(a)
  const y = parse(b)
  for (let i = 0; i < 3; i++) if (x.nums[i] !== y.nums[i]) return x.nums[i]! < y.nums[i]! ? -1 : 1
  // 1.2.3-rc.1 < 1.2.3; prerelease tags compared as strings (enough for a floor check).
  if (x.pre === y.pre) return 0
  if (x.pre === null) return 1
  if (y.pre === null) return -1
  return x.pre < y.pre ? -1 : 1
}

// Every installed copy of a package: the top level and any nested node_modules.
function installedCopies (name: string, dir = path.join(ROOT, 'node_modules'), found: Array<{ where: string, version: string }> = []) {
  const own = path.join(dir, name, 'package.json')
  if (existsSync(own)) found.push({ where: path.relative(ROOT, own), version: JSON.parse(readFileSync(own, 'utf8')).version })
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === '.bin' || entry.name === '.cache') continue
    const scoped = entry.name.startsWith('@')
    const parents = scoped ? readdirSync(path.join(dir, entry.name)).map((n) => path.join(dir, entry.name, n)) : [path.join(dir, entry.name)]
    for (const p of parents) {
      const nested = path.join(p, 'node_modules')
      if (existsSync(nested)) installedCopies(name, nested, found)
    }
  }
  return found
}

test('the semver comparator orders versions the way npm does', () => {
  assert.equal(compareSemver('7.29.0', '7.29.0'), 0)
  assert.equal(compareSemver('7.30.2', '7.29.0'), 1)
  assert.equal(compareSemver('7.9.0', '7.29.0'), -1)
  assert.equal(compareSemver('10.0.0', '9.99.99'), 1)
  assert.equal(compareSemver('6.3.1-rc.1', '6.3.1'), -1)
})

test('installed versions (every copy) and declared ranges are at or above the advisory floors', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  for (const [name, floor] of Object.entries(FLOORS)) {
    const copies = installedCopies(name)
    assert.ok(copies.length > 0, `${name} is installed`)
    for (const { where, version } of copies) {
      assert.ok(compareSemver(version, floor) >= 0, `${where}: ${name}@${version} is below the advisory floor ${floor}`)
    }
    // A fresh install must not be able to resolve below the floor either.
    const declared = pkg.dependencies[name]
    if (declared !== undefined) {
      const lowest = /(\d+\.\d+\.\d+)/.exec(declared)?.[1]
      assert.ok(lowest !== undefined && compareSemver(lowest, floor) >= 0, `package.json declares ${name}@${declared}, below ${floor}`)
    }
  }
})
