import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createUpstream } from '../../helpers/upstream.ts'
import { baseConfig, createGateway } from '../../helpers/gateway.ts'
import { rawRequest } from '../../helpers/raw-http.ts'
import { bearer, claims, hsAuth, signHs } from '../../auth/fixtures.ts'
import { get, expectHealthy, assertUnder } from './helpers.ts'

// Advisories of @fastify/reply-from (how they are tested: ./helpers.ts).

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
  // `%2F` / `%5C` inside a segment that then decodes to `..`: refused by the guards of
  // http-proxy and reply-from (an upstream decoding %2F first would leave /users).
  for (const target of ['/api/users/..%2Finternal', '/api/users/%2E%2E%2Finternal', '/api/users/%2E%2E%5Cinternal']) {
    const res = await get(gw.url!, target)
    assert.equal(res.status, 400, target)
  }
  assert.equal(up.requests.length, 0, 'nothing reached the upstream')
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
