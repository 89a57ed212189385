import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { closedPort } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { quickBreaker, switchableUpstream, upstreamState } from './support.ts'

test('one upstream resetting every request: GETs still answer 200 (retried elsewhere, then ejected)', async (t) => {
  const dead = await switchableUpstream(t, 'reset')
  const live = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [dead.origin, live.origin], retries: 1,
    circuitBreaker: quickBreaker({ volumeThreshold: 3, resetTimeout: '30s' }) }]))
  for (let i = 0; i < 20; i++) {
    const res = await gw.inject(`/api/users/${i}`)
    assert.equal(res.statusCode, 200, `GET ${i}`)
  }
  assert.equal(live.calls, 20)
  assert.equal(dead.calls, 3, 'the dead upstream is ejected once its breaker opens')
  assert.equal(upstreamState(gw, 'users', dead.origin).circuit, 'open')
})

test('one upstream refusing connections: GET, HEAD, OPTIONS, DELETE and a bodiless PUT are retried on the other', async (t) => {
  const origin = `http://127.0.0.1:${await closedPort()}`
  const live = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [origin, live.origin], retries: 1, circuitBreaker: false }]))
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT'] as const) {
    const res = await gw.inject({ method, url: '/api/users/1' })
    assert.equal(res.statusCode, 200, method)
  }
  assert.equal(live.calls, 10)
})

test('a POST is never retried: the dead upstream got it once, the other got nothing for it', async (t) => {
  const dead = await switchableUpstream(t, 'reset')
  const live = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'orders', prefix: '/api/orders', upstreams: [dead.origin, live.origin], retries: 3 }]))
  // Round-robin starts at the first upstream: the dead one.
  const res = await gw.inject({ method: 'POST', url: '/api/orders', payload: { item: 'book' } })
  assert.equal(res.statusCode, 502)
  assert.equal(res.json().code, 'GW_BAD_GATEWAY')
  assert.deepEqual(dead.requests.map((r) => r.method), ['POST'])
  assert.equal(live.requests.length, 0)
})

test('a PATCH to a refused upstream is not retried either', async (t) => {
  const origin = `http://127.0.0.1:${await closedPort()}`
  const live = await switchableUpstream(t)
  // Real sockets: with a body, undici destroys the request stream on failure (inject would reject).
  const gw = await createGateway(t, baseConfig([{ name: 'orders', prefix: '/api/orders', upstreams: [origin, live.origin], retries: 1 }]), { listen: true })
  const res = await request(`${gw.url}/api/orders/1`, { method: 'PATCH', body: '{"item":"pen"}', headers: { 'content-type': 'application/json' } })
  assert.equal(res.statusCode, 502)
  await res.body.dump()
  assert.equal(live.calls, 0)
})

test('an upstream answer is never retried: a 503 from the upstream is relayed, the other upstream is not tried', async (t) => {
  const busy = await switchableUpstream(t, 'fail')
  const live = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [busy.origin, live.origin], retries: 1 }]))
  const res = await gw.inject('/api/users/1')
  assert.equal(res.statusCode, 500)
  assert.equal(res.body, 'upstream broke')
  assert.equal(live.calls, 0)
})

test('retries is a bound: retries 1 makes exactly two attempts, on two different upstreams', async (t) => {
  const a = await switchableUpstream(t, 'reset')
  const b = await switchableUpstream(t, 'reset')
  const c = await switchableUpstream(t, 'reset')
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [a.origin, b.origin, c.origin], retries: 1, circuitBreaker: false }]))
  const res = await gw.inject('/api/users/1')
  assert.equal(res.statusCode, 502)
  const counts = [a.calls, b.calls, c.calls]
  assert.equal(counts.reduce((x, y) => x + y), 2, `attempts per upstream: ${counts}`)
  assert.ok(counts.every((n) => n <= 1), 'the retry went to a different upstream')
})

test('retries: 0 turns retries off', async (t) => {
  const origin = `http://127.0.0.1:${await closedPort()}`
  const live = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [origin, live.origin], retries: 0, circuitBreaker: false }]))
  const res = await gw.inject('/api/users/1')
  assert.equal(res.statusCode, 502)
  assert.equal(live.calls, 0)
})

test('a PUT with a body is not retried: the streamed body cannot be replayed', async (t) => {
  const origin = `http://127.0.0.1:${await closedPort()}`
  const live = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [origin, live.origin], retries: 1, circuitBreaker: false }]), { listen: true })
  const res = await request(`${gw.url}/api/users/1`, { method: 'PUT', body: 'name=alice', headers: { 'content-type': 'text/plain' } })
  assert.equal(res.statusCode, 502)
  await res.body.dump()
  assert.equal(live.calls, 0)
})
