import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request } from 'undici'
import { closedPort } from '../helpers/upstream.ts'
import { createRawUpstream } from '../helpers/raw-upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { metricValue } from '../helpers/metrics.ts'
import { quickBreaker, switchableUpstream, upstreamState } from './support.ts'

// Reads the whole request, counts it, then breaks the connection (RST, or FIN without an
// answer): the upstream may have acted on it.
async function breakingAfterRead (t: TestContext, how: 'reset' | 'close') {
  return createRawUpstream(t, (socket) => { if (how === 'reset') socket.resetAndDestroy(); else socket.destroy() })
}

test('a GET, HEAD, OPTIONS or DELETE the upstream read before breaking the connection is not sent again: one 502, the other upstream never sees it', async (t) => {
  const a = await breakingAfterRead(t, 'reset')
  const b = await breakingAfterRead(t, 'close')
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [a.origin, b.origin], retries: 1, circuitBreaker: false }]),
    { listen: true })
  const methods = ['GET', 'HEAD', 'OPTIONS', 'DELETE'] as const
  for (const method of methods) {
    const res = await request(`${gw.url}/api/users/1`, { method })
    assert.equal(res.statusCode, 502, method)
    await res.body.dump()
  }
  assert.equal(a.requests.length + b.requests.length, methods.length, `requests seen: ${a.requests.length} + ${b.requests.length}`)
})

for (const how of ['reset', 'close'] as const) {
  test(`a GET a single upstream read before it ${how === 'reset' ? 'reset' : 'closed'} the connection is not sent to it again`, async (t) => {
    const up = await breakingAfterRead(t, how)
    const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin], retries: 3, circuitBreaker: false }]),
      { listen: true })
    const res = await request(`${gw.url}/api/users/1`)
    assert.equal(res.statusCode, 502)
    assert.equal((await res.body.json() as { code: string }).code, 'GW_BAD_GATEWAY')
    assert.equal(up.requests.length, 1)
  })
}

test('an upstream resetting every GET it read: each costs one 502 until its breaker ejects it, and no GET reaches both', async (t) => {
  const dead = await switchableUpstream(t, 'reset')
  const live = await switchableUpstream(t)
  const breaker = quickBreaker({ volumeThreshold: 3, resetTimeout: '30s' })
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [dead.origin, live.origin], retries: 1, circuitBreaker: breaker }]))
  const statuses: number[] = []
  for (let i = 0; i < 20; i++) statuses.push((await gw.inject(`/api/users/${i}`)).statusCode)
  assert.equal(dead.calls, 3, 'the dead upstream is ejected once its breaker opens')
  assert.equal(statuses.filter((s) => s === 502).length, 3)
  assert.equal(live.calls, 17)
  assert.equal(upstreamState(gw, 'users', dead.origin).circuit, 'open')
})

test('a pooled keep-alive connection the upstream closed while idle is not a failure: the next GET goes on a new connection', async (t) => {
  const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nok'
  let idleClosed!: Promise<unknown>
  const up = await createRawUpstream(t, (socket, _head, index) => {
    socket.write(OK)
    // The first connection is closed by the upstream once it is idle in the gateway's pool.
    if (index === 0) {
      idleClosed = once(socket, 'close')
      socket.end()
    }
  })
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin], retries: 1, circuitBreaker: false }]),
    { listen: true })
  const first = await request(`${gw.url}/api/users/1`)
  assert.equal(await first.body.text(), 'ok')
  await idleClosed
  for (let i = 2; i <= 3; i++) {
    const res = await request(`${gw.url}/api/users/${i}`)
    assert.equal(res.statusCode, 200)
    assert.equal(await res.body.text(), 'ok')
  }
  assert.equal(up.requests.length, 3)
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
  const origins = await Promise.all([0, 1, 2].map(async () => `http://127.0.0.1:${await closedPort()}`))
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: origins, retries: 1, circuitBreaker: false }]))
  const res = await gw.inject('/api/users/1')
  assert.equal(res.statusCode, 502)
  const counts = await Promise.all(origins.map(async (upstream) =>
    await metricValue(gw, 'gatehouse_upstream_errors_total', { service: 'users', upstream, kind: 'refused' }) ?? 0))
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
