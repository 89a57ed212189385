import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'

test('longest prefix wins and prefixes match only on a path boundary', async (t) => {
  const api = await createUpstream(t)
  const users = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'api', prefix: '/api', upstreams: [api.origin] },
    { name: 'users', prefix: '/api/users', upstreams: [users.origin] },
  ]))

  assert.equal((await gw.inject('/api/users/7')).statusCode, 200)
  assert.equal(users.requests.at(-1)?.url, '/7')
  assert.equal((await gw.inject('/api/usersX')).statusCode, 200)
  assert.equal(api.requests.at(-1)?.url, '/usersX', '/api/usersX is not under /api/users')
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 200)
  assert.equal(api.requests.at(-1)?.url, '/orders/1')
  assert.equal(users.requests.length, 1)
})

test('a path outside every prefix is a 404 problem+json naming no service', async (t) => {
  const users = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [users.origin] }]))
  const res = await gw.inject('/api/usersX')
  assert.equal(res.statusCode, 404)
  assert.match(res.headers['content-type'] as string, /^application\/problem\+json/)
  const body = res.json()
  assert.equal(body.code, 'GW_NOT_FOUND')
  assert.equal(body.status, 404)
  assert.equal(body.requestId, res.headers['x-request-id'])
  assert.equal(users.requests.length, 0)
})

test('rewritePrefix replaces the prefix; without it the prefix is stripped', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rewritePrefix: '/users' },
    { name: 'orders', prefix: '/api/orders', upstreams: [up.origin] },
  ]))
  const cases: Array<[string, string]> = [
    ['/api/users', '/users'],
    ['/api/users/', '/users/'],
    ['/api/users/7', '/users/7'],
    ['/api/orders', '/'],
    ['/api/orders/9/items', '/9/items'],
  ]
  for (const [path, expected] of cases) {
    const res = await gw.inject(path)
    assert.equal(res.statusCode, 200, path)
    assert.equal(up.requests.at(-1)?.url, expected, path)
  }
})

test('query strings pass through unchanged', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }]))
  const res = await gw.inject('/api/users/search?q=a%20b&tag=x&tag=y&empty=')
  assert.equal(res.statusCode, 200)
  const url = up.requests.at(-1)!.url
  const params = new URL(url, 'http://x').searchParams
  assert.equal(new URL(url, 'http://x').pathname, '/search')
  assert.equal(params.get('q'), 'a b')
  assert.deepEqual(params.getAll('tag'), ['x', 'y'])
  assert.equal(params.get('empty'), '')
})

test('a 1 MB body and a chunked body arrive byte-exact over a real socket', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'files', prefix: '/api/files', upstreams: [up.origin] }],
    { server: { bodyLimit: '2mb' } }), { listen: true })
  const big = randomBytes(1024 * 1024)
  const res = await request(`${gw.url}/api/files/upload`, {
    method: 'POST', body: big, headers: { 'content-type': 'application/octet-stream' },
  })
  assert.equal(res.statusCode, 200)
  await res.body.dump()
  assert.equal(up.requests.at(-1)!.body.length, big.length)
  assert.ok(up.requests.at(-1)!.body.equals(big))

  const parts = [randomBytes(70000), randomBytes(1), randomBytes(33333)]
  async function * chunks () { for (const p of parts) yield p }
  const res2 = await request(`${gw.url}/api/files/stream`, { method: 'PUT', body: Readable.from(chunks()) })
  assert.equal(res2.statusCode, 200)
  await res2.body.dump()
  const got = up.requests.at(-1)!
  assert.equal(got.headers['transfer-encoding'], 'chunked')
  assert.ok(got.body.equals(Buffer.concat(parts)))
})

test('upstream responses stream back with status and body intact', async (t) => {
  const payload = randomBytes(300000)
  const up = await createUpstream(t, (_req, res) => {
    res.writeHead(201, { 'content-type': 'application/octet-stream', 'x-custom': 'kept' })
    res.end(payload)
  })
  const gw = await createGateway(t, baseConfig([{ name: 'files', prefix: '/api/files', upstreams: [up.origin] }]), { listen: true })
  const res = await request(`${gw.url}/api/files/x`)
  assert.equal(res.statusCode, 201)
  assert.equal(res.headers['x-custom'], 'kept')
  const body = Buffer.from(await res.body.arrayBuffer())
  assert.ok(body.equals(payload))
})

test('the bare prefix with a query string reaches the upstream as / (or rewritePrefix) with the query as it came', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin] },
    { name: 'v2', prefix: '/api/v2users', upstreams: [up.origin], rewritePrefix: '/v2' },
  ]), { listen: true })
  const cases: Array<[string, string]> = [
    ['/api/users?x=1', '/?x=1'],
    ['/api/users', '/'],
    ['/api/users/?x=1', '/?x=1'],
    ['/api/users?q=a+b&q=%2F&flag', '/?q=a+b&q=%2F&flag'],
    ['/api/v2users?x=1', '/v2?x=1'],
    ['/api/v2users', '/v2'],
    ['/api/v2users/7?x=1', '/v2/7?x=1'],
  ]
  for (const [path, expected] of cases) {
    const res = await request(`${gw.url}${path}`)
    await res.body.dump()
    assert.equal(res.statusCode, 200, path)
    assert.equal(up.requests.at(-1)?.url, expected, path)
  }
})
