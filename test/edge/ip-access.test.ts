import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { metricValue } from '../helpers/metrics.ts'
import { JWT_SECRET } from '../helpers/tokens.ts'

function assertForbidden (res: { statusCode: number, headers: Record<string, unknown>, body: string }) {
  assert.equal(res.statusCode, 403)
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
  assert.equal(JSON.parse(res.body).code, 'GW_FORBIDDEN')
}

test('global deny list: a denied address gets 403 GW_FORBIDDEN and the upstream is never called', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin] },
  ], { ipAccess: { deny: ['203.0.113.0/24'] } }))

  const denied = await inject({ url: '/api/users/1', remoteAddress: '203.0.113.9' })
  assertForbidden({ ...denied, body: denied.body })
  // Unmatched paths are refused too: the global list guards the whole gateway.
  assert.equal((await inject({ url: '/nowhere', remoteAddress: '203.0.113.9' })).statusCode, 403)
  assert.equal(up.requests.length, 0)
  assert.equal((await inject({ url: '/api/users/1', remoteAddress: '198.51.100.1' })).statusCode, 200)
  assert.equal(up.requests.length, 1)
})

test('service allow list: only listed networks reach that service; other services are unaffected', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], ipAccess: { allow: ['10.0.0.0/8', '2001:db8::/32'] } },
    { name: 'orders', prefix: '/api/orders', upstreams: [up.origin] },
  ]))

  const from = (url: string, remoteAddress: string) => inject({ url, remoteAddress })
  assert.equal((await from('/api/users/1', '10.20.30.40')).statusCode, 200)
  assert.equal((await from('/api/users/1', '2001:db8:1::5')).statusCode, 200)
  // A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6 addresses.
  assert.equal((await from('/api/users/1', '::ffff:10.1.2.3')).statusCode, 200)
  assertForbidden(await from('/api/users/1', '192.0.2.1'))
  assertForbidden(await from('/api/users/1', '2001:db9::1'))
  assertForbidden(await from('/api/users/1', '::ffff:192.0.2.1'))
  assert.equal(up.requests.length, 3)
  assert.equal((await from('/api/orders/1', '192.0.2.1')).statusCode, 200)
})

test('deny wins over allow, and the global list applies before the service list', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], ipAccess: { allow: ['10.0.0.0/8'], deny: ['10.6.6.0/24'] } },
  ], { ipAccess: { deny: ['10.9.9.9'] } }))

  assert.equal((await inject({ url: '/api/users/1', remoteAddress: '10.6.5.1' })).statusCode, 200)
  assertForbidden(await inject({ url: '/api/users/1', remoteAddress: '10.6.6.6' }))
  assertForbidden(await inject({ url: '/api/users/1', remoteAddress: '10.9.9.9' }))
  assert.equal(up.requests.length, 1)
})

test('a denied address is refused before auth and before rate limits: no 401, no budget spent', async (t) => {
  const up = await createUpstream(t)
  const { inject, gateway } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required', ipAccess: { deny: ['192.0.2.0/24'] } },
    { name: 'orders', prefix: '/api/orders', upstreams: [up.origin], ipAccess: { deny: ['192.0.2.0/24'] } },
  ], { auth: { jwt: { secret: JWT_SECRET } }, rateLimit: { store: 'memory', default: { max: 1, window: '1m', by: 'ip' } } }))

  // No token: a refused address learns nothing about auth.
  assertForbidden(await inject({ url: '/api/users/1', remoteAddress: '192.0.2.7' }))
  assert.equal(await metricValue(gateway, 'gatehouse_auth_failures_total', { service: 'users', reason: 'missing' }) ?? 0, 0)
  // Three refused requests from one address spend none of its budget (max 1)...
  for (let i = 0; i < 3; i++) assertForbidden(await inject({ url: '/api/orders/1', remoteAddress: '192.0.2.7' }))
  assert.equal(await metricValue(gateway, 'gatehouse_rate_limited_total', { service: 'orders' }) ?? 0, 0)
  // ...and another address still has its whole budget of one.
  const allowed = await inject({ url: '/api/orders/1', remoteAddress: '198.51.100.3' })
  assert.equal(allowed.statusCode, 200)
  assert.equal(allowed.headers['x-ratelimit-remaining'], '0')
  assert.equal(up.requests.length, 1)
})

async function get (url: string, xff?: string) {
  const res = await request(url, { headers: xff === undefined ? {} : { 'x-forwarded-for': xff } })
  await res.body.dump()
  return res.statusCode
}

test('trustProxy false: a spoofed X-Forwarded-For neither passes an allow list nor escapes a deny list', async (t) => {
  const up = await createUpstream(t)
  const { url } = await createGateway(t, baseConfig([
    { name: 'allowed', prefix: '/api/allowed', upstreams: [up.origin], ipAccess: { allow: ['198.51.100.7/32'] } },
    { name: 'denied', prefix: '/api/denied', upstreams: [up.origin], ipAccess: { deny: ['127.0.0.0/8'] } },
  ]), { listen: true })

  // The peer is 127.0.0.1; whatever it claims in X-Forwarded-For is not trusted.
  assert.equal(await get(`${url}/api/allowed/1`, '198.51.100.7'), 403)
  assert.equal(await get(`${url}/api/denied/1`, '198.51.100.7'), 403)
  assert.equal(await get(`${url}/api/denied/1`), 403)
  assert.equal(up.requests.length, 0)
})

test('trustProxy [127.0.0.1/32]: the client is the right-most untrusted X-Forwarded-For entry', async (t) => {
  const up = await createUpstream(t)
  const { url } = await createGateway(t, baseConfig([
    { name: 'allowed', prefix: '/api/allowed', upstreams: [up.origin], ipAccess: { allow: ['198.51.100.7/32'] } },
    { name: 'denied', prefix: '/api/denied', upstreams: [up.origin], ipAccess: { deny: ['203.0.113.0/24'] } },
  ], { server: { trustProxy: ['127.0.0.1/32'] } }), { listen: true })

  // Our proxy (127.0.0.1) saw 198.51.100.7: allowed.
  assert.equal(await get(`${url}/api/allowed/1`, '198.51.100.7'), 200)
  // Trusted hops on the right are skipped.
  assert.equal(await get(`${url}/api/allowed/1`, '198.51.100.7, 127.0.0.1'), 200)
  // A client writing the allowed address left of its own is still itself.
  assert.equal(await get(`${url}/api/allowed/1`, '198.51.100.7, 203.0.113.5'), 403)
  // No header: the proxy itself is the client, not in the allow list.
  assert.equal(await get(`${url}/api/allowed/1`), 403)
  // A denied client cannot hide behind a forged left-most entry.
  assert.equal(await get(`${url}/api/denied/1`, '10.0.0.1, 203.0.113.5'), 403)
  assert.equal(await get(`${url}/api/denied/1`, '203.0.113.5'), 403)
  assert.equal(await get(`${url}/api/denied/1`, '198.51.100.8'), 200)
  assert.equal(up.requests.length, 3)
})
