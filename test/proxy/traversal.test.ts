import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { rawRequest } from '../helpers/raw-http.ts'

async function twoServices (t: import('node:test').TestContext) {
  const users = await createUpstream(t)
  const admin = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [users.origin], rewritePrefix: '/users' },
    { name: 'admin', prefix: '/api/admin', upstreams: [admin.origin] },
  ]))
  return { users, admin, gw }
}

test('path traversal through dot segments, %2e and %2f never reaches another service via the users prefix', async (t) => {
  const { users, admin, gw } = await twoServices(t)
  const attempts = [
    '/api/users/..%2fadmin/secret',
    '/api/users/%2e%2e%2fadmin',
    '/api/users/..%2F..%2Fapi%2Fadmin',
    '/api/users/%252e%252e/admin',
    '/api/users/x/..;/..;/admin',
    '/api/users//..//admin',
  ]
  for (const path of attempts) {
    const res = await gw.inject(path)
    assert.ok(res.statusCode < 500, `${path} -> ${res.statusCode}`)
  }
  assert.equal(admin.requests.length, 0, 'the admin service received nothing')
  for (const r of users.requests) {
    assert.ok(r.url.startsWith('/users/') || r.url === '/users', r.url)
    assert.ok(!/(^|\/)\.\.?(\/|$)/.test(r.url.split('?')[0]!), `no dot segments forwarded: ${r.url}`)
  }
})

test('encoded slashes and backslashes stay encoded on the way upstream', async (t) => {
  const { users, gw } = await twoServices(t)
  const res = await gw.inject('/api/users/a%2Fb/c%5Cd')
  assert.equal(res.statusCode, 200)
  assert.equal(users.requests.at(-1)!.url, '/users/a%2Fb/c%5Cd')
})

test('dot segments are resolved before routing: the request goes where its normalised path points', async (t) => {
  const { users, admin, gw } = await twoServices(t)
  const res = await gw.inject('/api/admin/../users/%2e/7')
  assert.equal(res.statusCode, 200)
  assert.equal(users.requests.at(-1)!.url, '/users/7')
  assert.equal(admin.requests.length, 0)
})

test('malformed escapes, encoded NUL, raw backslash and climbing above root are 400, never forwarded', async (t) => {
  const users = await createUpstream(t)
  const admin = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [users.origin], rewritePrefix: '/users' },
    { name: 'admin', prefix: '/api/admin', upstreams: [admin.origin] },
  ]), { listen: true })
  // Raw bytes on a socket: no client library gets to normalise these paths first.
  for (const path of ['/api/users/%', '/api/users/%zz', '/api/users/a%00b', '/api/users/%2', '/..', '/api/../../etc/passwd',
    '/%2e%2e/api/users', '/api/users/x\\..\\..\\admin', '/api/users/..;/admin']) {
    const res = await rawRequest(gw.url!, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    assert.equal(res.status, 400, path)
    assert.equal(JSON.parse(res.body).code, 'GW_BAD_REQUEST', path)
  }
  assert.equal(users.requests.length + admin.requests.length, 0)
})

// Raw bytes on a socket: a client library would resolve `%2e%2e` or re-encode on its own.
async function usersAndOrders (t: import('node:test').TestContext) {
  const users = await createUpstream(t)
  const orders = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [users.origin] },
    { name: 'orders', prefix: '/api/orders', upstreams: [orders.origin] },
  ]), { listen: true })
  const get = (path: string) => rawRequest(gw.url!, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  return { users, orders, get }
}

test('an encoded slash or backslash inside a segment is forwarded as it came and stays with the service it matched', async (t) => {
  const { users, orders, get } = await usersAndOrders(t)
  const cases: Array<[string, string]> = [
    ['/api/users/projects/group%2Frepo', '/projects/group%2Frepo'],
    ['/api/users/projects/group%2Frepo/files/a%2Fb.txt?x=1', '/projects/group%2Frepo/files/a%2Fb.txt?x=1'],
    ['/api/users/dir%5Cfile', '/dir%5Cfile'],
    // `..` inside a longer segment is no dot segment either.
    ['/api/users/a..b/c..', '/a..b/c..'],
  ]
  for (const [path, forwarded] of cases) {
    const res = await get(path)
    assert.equal(res.status, 200, path)
    assert.equal(users.requests.at(-1)!.url, forwarded, path)
  }
  assert.equal(orders.requests.length, 0, 'the orders service received nothing')
})

// The traversal guards of @fastify/http-proxy and @fastify/reply-from (GHSA-2q7r): an
// upstream that decodes %2F or %5C before it resolves dot segments would climb out of
// rewritePrefix on `..%2f`. reply-from's guard also refuses a segment that starts with `..`.
test('a path that decodes to a .. segment (`..%2f`, `..%5c`, `/..x`) is 400 and reaches no upstream', async (t) => {
  const { users, orders, get } = await usersAndOrders(t)
  for (const path of ['/api/users/..%2forders/1', '/api/users/..%2Forders/1?x=1', '/api/users/..%5corders/1',
    '/api/users/a/..%2f..%2fetc%2fpasswd', '/api/users/..hidden']) {
    const res = await get(path)
    assert.equal(res.status, 400, path)
    assert.equal(JSON.parse(res.body).code, 'GW_BAD_REQUEST', path)
  }
  assert.equal(users.requests.length, 0)
  assert.equal(orders.requests.length, 0)
})

test('%2e%2e is still a dot segment, and %00, a malformed escape or climbing above / are still 400', async (t) => {
  const { users, orders, get } = await usersAndOrders(t)
  // Resolved before routing: it names the orders prefix, so orders gets it, with its own policy.
  const resolved = await get('/api/users/%2e%2e/orders/1')
  assert.equal(resolved.status, 200)
  assert.equal(orders.requests.at(-1)!.url, '/1')
  assert.equal(users.requests.length, 0)
  const stays = await get('/api/users/a/%2E%2e/7')
  assert.equal(stays.status, 200)
  assert.equal(users.requests.at(-1)!.url, '/7')
  for (const path of ['/api/users/%00', '/api/users/a%00b', '/api/users/%zz', '/api/users/%2', '/api/users/../../../x',
    '/api/users/%2e%2e/%2e%2e/%2e%2e/x']) {
    const res = await get(path)
    assert.equal(res.status, 400, path)
    assert.equal(JSON.parse(res.body).code, 'GW_BAD_REQUEST', path)
  }
  assert.equal(users.requests.length, 1)
  assert.equal(orders.requests.length, 1)
})
