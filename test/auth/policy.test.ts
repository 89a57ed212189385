import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { authFailures, bearer, claims, hsAuth, signHs } from './fixtures.ts'

const read = () => signHs(claims({ scope: 'users:read' }))
const readWrite = () => signHs(claims({ scope: 'users:read users:write' }))

async function usersGateway (t: TestContext, service: Record<string, unknown>) {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], ...service },
  ], hsAuth()))
  return { up, gw }
}

test('missing scope: 403 GW_FORBIDDEN with insufficient_scope, upstream untouched', async (t) => {
  const { up, gw } = await usersGateway(t, { auth: 'required', scopes: ['users:read', 'users:admin'] })
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(read()) })
  assert.equal(res.statusCode, 403)
  assert.equal((res.json() as { code: string }).code, 'GW_FORBIDDEN')
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="gatehouse", error="insufficient_scope", scope="users:read users:admin"')
  assert.equal(up.requests.length, 0)
  assert.equal(await authFailures(gw, 'users', 'scope'), 1)
  const ok = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ scope: 'users:admin users:read' }))) })
  assert.equal(ok.statusCode, 200)
})

test('scopes are the union of scope, scp and scopes claims', async (t) => {
  const { up, gw } = await usersGateway(t, { auth: 'required', scopes: ['a', 'b', 'c'] })
  const token = signHs(claims({ scope: 'a', scp: ['b'], scopes: ['c', 'd'] }))
  const res = await gw.inject({ url: '/api/users/1', headers: bearer(token) })
  assert.equal(res.statusCode, 200)
  assert.equal(up.requests[0]!.headers['x-consumer-scopes'], 'a b c d')
  // A scope claim that is neither a string nor a list of strings grants nothing.
  const odd = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ scope: { a: true }, scp: [1, 2], scopes: 'a b c' }))) })
  assert.equal(odd.statusCode, 200, 'scopes as a space-separated string is read too')
  const none = await gw.inject({ url: '/api/users/1', headers: bearer(signHs(claims({ scope: ['a'], scp: 7 }))) })
  assert.equal(none.statusCode, 403)
})

test('route override: POST under /api/users needs users:write, GET keeps users:read', async (t) => {
  const { up, gw } = await usersGateway(t, {
    auth: 'required',
    scopes: ['users:read'],
    routes: [
      { methods: ['POST', 'PUT', 'PATCH', 'DELETE'], path: '/api/users', scopes: ['users:write'] },
      { methods: ['POST', 'PUT', 'PATCH', 'DELETE'], path: '/api/users/*', scopes: ['users:write'] },
    ],
  })
  assert.equal((await gw.inject({ url: '/api/users/7', headers: bearer(read()) })).statusCode, 200)
  // Every spelling of a write under the prefix needs users:write.
  for (const [method, url] of [
    ['POST', '/api/users'], ['POST', '/api/users/'], ['PUT', '/api/users/7'], ['DELETE', '/api/users/7/'],
    ['PATCH', '/api/users/7/avatar'], ['POST', '/api/users/%37'], ['POST', '/api/users//7'], ['PUT', '/api/users/7;x=1'],
    ['POST', '/api/users?x=1'],
  ] as const) {
    const res = await gw.inject({ method, url, headers: bearer(read()), payload: '{}' })
    assert.equal(res.statusCode, 403, `${method} ${url}`)
    assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope", scope="users:write"/)
  }
  assert.equal(up.requests.length, 1)
  const created = await gw.inject({ method: 'POST', url: '/api/users', headers: bearer(readWrite()), payload: '{}' })
  assert.equal(created.statusCode, 200)
  // The route replaces the service's scopes: users:write alone is enough for a POST.
  const writeOnly = await gw.inject({ method: 'PUT', url: '/api/users/7', headers: bearer(signHs(claims({ scope: 'users:write' }))), payload: '{}' })
  assert.equal(writeOnly.statusCode, 200)
  assert.equal((await gw.inject({ method: 'POST', url: '/api/users' })).statusCode, 401)
})

test('route override: first match wins, and a route can open a public path', async (t) => {
  const { up, gw } = await usersGateway(t, {
    auth: 'required',
    scopes: ['users:read'],
    routes: [
      { path: '/api/users/public/*', auth: 'none' },
      { methods: ['GET'], path: '/api/users/admin/*', scopes: ['users:admin'] },
      { path: '/api/users/*', rateLimit: false }, // sets neither auth nor scopes: the service's rule
      { path: '/api/users/never/*', scopes: ['unreachable'] },
    ],
  })
  const pub = await gw.inject({ url: '/api/users/public/docs' })
  assert.equal(pub.statusCode, 200)
  assert.equal(up.requests[0]!.headers['x-consumer-id'], undefined)
  // `/*` needs one more segment: the bare path is not public.
  assert.equal((await gw.inject({ url: '/api/users/public' })).statusCode, 401)
  assert.equal((await gw.inject({ url: '/api/users/admin/x', headers: bearer(read()) })).statusCode, 403)
  assert.equal((await gw.inject({ method: 'HEAD', url: '/api/users/admin/x', headers: bearer(read()) })).statusCode, 403, 'HEAD follows GET')
  assert.equal((await gw.inject({ url: '/api/users/never/x', headers: bearer(read()) })).statusCode, 200, 'shadowed by the earlier /api/users/* route')
})

test('auth optional: no token = anonymous, a valid token = consumer, an invalid one = 401', async (t) => {
  const { up, gw } = await usersGateway(t, { auth: 'optional' })
  const anon = await gw.inject({ url: '/api/users/1', headers: { 'x-consumer-id': 'admin', 'x-consumer-scopes': 'users:admin' } })
  assert.equal(anon.statusCode, 200)
  assert.equal(up.requests[0]!.headers['x-consumer-id'], undefined)
  assert.equal(up.requests[0]!.headers['x-consumer-scopes'], undefined)

  const known = await gw.inject({ url: '/api/users/1', headers: bearer(read()) })
  assert.equal(known.statusCode, 200)
  assert.equal(up.requests[1]!.headers['x-consumer-id'], 'alice')

  const expired = signHs(claims({ exp: Math.floor(Date.now() / 1000) - 60 }))
  for (const token of [expired, 'garbage', signHs(claims(), 'wrong-secret-0123456789abcdefgh')]) {
    const res = await gw.inject({ url: '/api/users/1', headers: bearer(token) })
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="gatehouse", error="invalid_token"')
  }
  assert.equal(up.requests.length, 2)
})

test('auth none: no token needed, any token ignored, no consumer headers upstream', async (t) => {
  const { up, gw } = await usersGateway(t, { auth: 'none' })
  const res = await gw.inject({ url: '/api/users/1', headers: { authorization: 'Bearer garbage', 'x-consumer-id': 'admin' } })
  assert.equal(res.statusCode, 200)
  assert.equal(up.requests[0]!.headers['x-consumer-id'], undefined)
  assert.equal(up.requests[0]!.headers.authorization, 'Bearer garbage', 'forwarded untouched for the upstream to judge')
})

test('spoofed X-Consumer-Id / X-Consumer-Scopes are replaced by the token\'s identity', async (t) => {
  const { up, gw } = await usersGateway(t, { auth: 'required' })
  const res = await gw.inject({
    url: '/api/users/1',
    headers: { ...bearer(read()), 'x-consumer-id': 'admin', 'x-consumer-scopes': 'users:admin', 'X-Consumer-Custom': 'x' },
  })
  assert.equal(res.statusCode, 200)
  const h = up.requests[0]!.headers
  assert.equal(h['x-consumer-id'], 'alice')
  assert.equal(h['x-consumer-scopes'], 'users:read')
  assert.equal(h['x-consumer-custom'], undefined)
})

test('forwardAuthorization: false keeps the token from the upstream', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' },
  ], hsAuth({ forwardAuthorization: false })))
  assert.equal((await gw.inject({ url: '/api/users/1', headers: bearer(read()) })).statusCode, 200)
  assert.equal(up.requests[0]!.headers.authorization, undefined)
  assert.equal(up.requests[0]!.headers['x-consumer-id'], 'alice')
})

test('unmatched paths are 404, not 401, and other services keep their own policy', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' },
    { name: 'open', prefix: '/api/open', upstreams: [up.origin], auth: 'none' },
  ], hsAuth()))
  assert.equal((await gw.inject({ url: '/api/nothing' })).statusCode, 404)
  assert.equal((await gw.inject({ url: '/api/open/x' })).statusCode, 200)
  assert.equal((await gw.inject({ url: '/api/users/x' })).statusCode, 401)
  assert.equal(up.requests.length, 1)
})
