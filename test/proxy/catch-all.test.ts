// A service with prefix `/` (SPEC Operations: a web front end behind the same hostname)
// gets what no other prefix matches, and never a request of another service: the
// longest prefix still wins, a path normalised into another prefix goes there, and a
// refused target stays refused.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createUpstream, type Upstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { rawRequest } from '../helpers/raw-http.ts'

async function setup (t: TestContext, web: Record<string, unknown> = {}) {
  const users = await createUpstream(t)
  const orders = await createUpstream(t)
  const front = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'web', prefix: '/', upstreams: [front.origin], ...web },
    { name: 'users', prefix: '/api/users', upstreams: [users.origin] },
    { name: 'orders', prefix: '/api/orders', upstreams: [orders.origin] },
  ]), { listen: true })
  const get = (target: string) => rawRequest(gw.url!, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  return { users, orders, front, gw, get }
}

function lastUrl (up: Upstream): string | undefined {
  return up.requests.at(-1)?.url
}

test('the catch-all prefix / gets what no other prefix matches, path and query as they came', async (t) => {
  const { users, orders, front, gw } = await setup(t)
  const cases: Array<[string, string]> = [
    ['/', '/'],
    ['/?q=1', '/?q=1'],
    ['/anything?q', '/anything?q'],
    ['/assets/app.js', '/assets/app.js'],
    ['/api', '/api'],
    ['/api/usersX', '/api/usersX'],
    ['/api/other/1', '/api/other/1'],
  ]
  for (const [path, forwarded] of cases) {
    const res = await request(`${gw.url}${path}`)
    await res.body.dump()
    assert.equal(res.statusCode, 200, path)
    assert.equal(lastUrl(front), forwarded, path)
    // The catch-all's own prefix is "/": what it forwards keeps its leading slash.
    assert.equal(front.requests.at(-1)!.headers['x-forwarded-prefix'], '/', path)
  }
  assert.equal(users.requests.length + orders.requests.length, 0)
})

test('with a / service present the longest prefix still wins', async (t) => {
  const { users, orders, front, gw } = await setup(t)
  for (const [path, up, forwarded] of [['/api/users', users, '/'], ['/api/users/x?y=1', users, '/x?y=1'],
    ['/api/orders/9', orders, '/9']] as const) {
    const res = await request(`${gw.url}${path}`)
    await res.body.dump()
    assert.equal(res.statusCode, 200, path)
    assert.equal(lastUrl(up), forwarded, path)
  }
  assert.equal(front.requests.length, 0, 'the catch-all took nothing of another service')
})

test('a path normalised into another prefix goes to that service; a refused target stays 400, never falls into /', async (t) => {
  const { users, orders, front, get } = await setup(t)
  // Raw bytes: no client library resolves these first.
  const toOrders = await get('/static/../api/orders/1')
  assert.equal(toOrders.status, 200)
  assert.equal(lastUrl(orders), '/1')
  const toUsers = await get('/api/users/%2e%2e/users/7')
  assert.equal(toUsers.status, 200)
  assert.equal(lastUrl(users), '/7')
  const toFront = await get('/api/users/%2e%2e/%2e%2e/index.html')
  assert.equal(toFront.status, 200)
  assert.equal(lastUrl(front), '/index.html')
  const before = front.requests.length
  for (const target of ['/..', '/%2e%2e/api/users', '/a%00b', '/%zz', '/api/users/%zz', '/x\\..\\api', '*', 'http://x/api/users/1']) {
    const res = await get(target)
    assert.equal(res.status, 400, target)
    assert.equal(JSON.parse(res.body).code, 'GW_BAD_REQUEST', target)
  }
  assert.equal(front.requests.length, before, 'nothing refused reached the catch-all')
  assert.equal(users.requests.length + orders.requests.length, 2)
})

test('the catch-all with rewritePrefix puts it in front of the whole path', async (t) => {
  const { front, gw } = await setup(t, { rewritePrefix: '/app' })
  for (const [path, forwarded] of [['/anything?q', '/app/anything?q'], ['/', '/app/'], ['/?q=1', '/app/?q=1'],
    ['/a/b%2Fc', '/app/a/b%2Fc']]) {
    const res = await request(`${gw.url}${path}`)
    await res.body.dump()
    assert.equal(res.statusCode, 200, path)
    assert.equal(lastUrl(front), forwarded, path)
  }
})

test('a redirect from the catch-all upstream is rewritten onto the public root', async (t) => {
  const front: Upstream = await createUpstream(t, (req, res) => {
    const location = req.url === '/app/old' ? '/app/new?x=1' : `${front.origin}/login`
    res.writeHead(302, { location, 'content-length': '0' })
    res.end()
  })
  const gw = await createGateway(t, baseConfig([{ name: 'web', prefix: '/', upstreams: [front.origin], rewritePrefix: '/app' }]), { listen: true })
  const host = new URL(gw.url!).host
  for (const [path, location] of [['/old', `http://${host}/new?x=1`], ['/x', `http://${host}/login`]]) {
    const res = await request(`${gw.url}${path}`)
    await res.body.dump()
    assert.equal(res.statusCode, 302)
    assert.equal(res.headers.location, location, path)
  }
})

test('without a / service an unmatched request is still 404 GW_NOT_FOUND', async (t) => {
  const users = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [users.origin] }]), { listen: true })
  for (const path of ['/', '/anything', '/api/usersX']) {
    const res = await request(`${gw.url}${path}`)
    const body = await res.body.json() as { code: string }
    assert.equal(res.statusCode, 404, path)
    assert.equal(body.code, 'GW_NOT_FOUND', path)
  }
  assert.equal(users.requests.length, 0)
})

test('behind a trusted proxy with its own prefix, the catch-all sends X-Forwarded-Prefix as that prefix alone', async (t) => {
  const front = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'web', prefix: '/', upstreams: [front.origin] }],
    { server: { trustProxy: ['127.0.0.1/32'] } }), { listen: true })
  const res = await request(`${gw.url}/page`, { headers: { 'x-forwarded-prefix': '/edge/' } })
  await res.body.dump()
  assert.equal(front.requests.at(-1)!.headers['x-forwarded-prefix'], '/edge', 'public URL = /edge + the path the upstream got')
})
