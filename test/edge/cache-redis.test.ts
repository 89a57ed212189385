import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { closedPort, createUpstream, type Upstream } from '../helpers/upstream.ts'
import { REDIS_URL, testRedis } from '../helpers/redis.ts'
import { metricValue } from '../helpers/metrics.ts'
import { waitFor } from '../helpers/wait.ts'
// The rate-limit tests' TCP relay to Redis, which can stall it.
import { createTcpProxy } from '../helpers/tcp-proxy.ts'
import { redisTestOptions } from '../helpers/redis.ts'

async function countingUpstream (t: Parameters<typeof createUpstream>[0]): Promise<Upstream & { calls: () => number }> {
  let calls = 0
  const up = await createUpstream(t, (req, res) => {
    calls++
    const body = JSON.stringify({ call: calls, url: req.url })
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60', etag: `"v${calls}"` })
    res.end(body)
  })
  return Object.assign(up, { calls: () => calls })
}

function config (up: Upstream, redis: { url: string, keyPrefix: string }) {
  // The cache has no Redis key of its own: it uses rateLimit.redis (here without limits).
  return baseConfig([
    { name: 'items', prefix: '/api/items', upstreams: [up.origin], cache: { ttl: '1m', store: 'redis' } },
  ], { rateLimit: { store: 'memory', redis: { ...redis, timeout: '50ms' } } })
}

test('redis store: a response stored by one gateway instance is a hit on another', redisTestOptions, async (t) => {
  const up = await countingUpstream(t)
  const { prefix, keys } = await testRedis(t)
  const a = await createGateway(t, config(up, { url: REDIS_URL, keyPrefix: prefix }))
  const b = await createGateway(t, config(up, { url: REDIS_URL, keyPrefix: prefix }))

  const first = await a.inject('/api/items/1?page=2')
  assert.equal(first.headers['x-cache'], 'MISS')
  // Stored once the body is complete; the write is not awaited by the response.
  await waitFor('the entry in Redis', async () => (await keys()).length === 1)
  const [key] = await keys()
  assert.ok(key!.startsWith(`${prefix}_cache:items:`), key)

  const fromB = await b.inject('/api/items/1?page=2')
  assert.equal(fromB.statusCode, 200)
  assert.equal(fromB.headers['x-cache'], 'HIT')
  assert.equal(fromB.body, first.body)
  assert.equal(fromB.headers.etag, '"v1"')
  assert.ok(Number(fromB.headers.age) >= 0)
  assert.equal(up.calls(), 1)
  assert.equal(await metricValue(b, 'gatehouse_cache_requests_total', { service: 'items', result: 'hit' }), 1)
  // Another URL is another entry.
  assert.equal((await b.inject('/api/items/1?page=3')).headers['x-cache'], 'MISS')
  assert.equal(up.calls(), 2)
})

test('redis store unreachable: every request is a miss answered by the upstream, promptly, never an error', async (t) => {
  const up = await countingUpstream(t)
  const port = await closedPort()
  const { inject, logs } = await createGateway(t, config(up, { url: `redis://127.0.0.1:${port}`, keyPrefix: 'gatehouse:test-edge:down:' }))

  for (let i = 1; i <= 3; i++) {
    const started = performance.now()
    const res = await inject('/api/items/1')
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-cache'], 'MISS')
    assert.equal(res.json().call, i)
    assert.ok(performance.now() - started < 1000, 'no wait on the dead store')
  }
  assert.equal(up.calls(), 3)
  assert.ok(logs.some((l) => l.msg === 'cache store unavailable; serving as misses'))
})

test('redis store that stops answering: a lookup waits at most redis.timeout, then the request is a miss', redisTestOptions, async (t) => {
  const up = await countingUpstream(t)
  const relay = await createTcpProxy(t)
  const { prefix } = await testRedis(t)
  const { inject } = await createGateway(t, config(up, { url: relay.url, keyPrefix: prefix }))

  assert.equal((await inject('/api/items/1')).headers['x-cache'], 'MISS')
  relay.pause()
  t.after(() => relay.resume())
  const started = performance.now()
  const res = await inject('/api/items/1')
  const elapsed = performance.now() - started
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['x-cache'], 'MISS')
  assert.equal(res.json().call, 2)
  assert.ok(elapsed < 500, `answered after ${Math.round(elapsed)} ms with a 50 ms store timeout`)
})
