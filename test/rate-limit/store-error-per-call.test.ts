import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { createGateway, baseConfig, type TestGateway } from '../helpers/gateway.ts'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { metricValue } from '../helpers/metrics.ts'
import { redisTestOptions, testRedis } from '../helpers/redis.ts'
import { createTcpProxy } from '../helpers/tcp-proxy.ts'
import { waitFor } from '../helpers/wait.ts'
import { RedisRateLimitStore, StoreUnavailableError } from '../../plugins/rate-limit/redis-store.ts'
import { createGatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'
import type { IncrResult } from '../../plugins/rate-limit/store.ts'
import { REDIS_HOST, countMsg, redisRateLimit, within } from './helpers.ts'

// onStoreError is decided per call, as Envoy's failure_mode_deny is: one slow Redis reply
// fails that request alone, and the next request asks Redis again (no degraded window).
const MAX = 10
// The stall is held until the test releases it, so the timeout need not be the default
// 50 ms: a roomier one keeps a loaded machine from timing out the calls that should
// answer (the relay runs on this event loop too). Answers are bounded only as a hang guard.
const STALL_TIMEOUT = '200ms'
const HANG_GUARD_MS = 1500
const GAUGE = 'gatehouse_ratelimit_store_degraded'
const MODES = ['deny', 'local', 'allow'] as const
type Mode = typeof MODES[number]

async function gatewayOn (t: Parameters<typeof createGateway>[0], redisUrl: string, prefix: string, mode: Mode,
  timeout: string): Promise<TestGateway> {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: MAX, window: '1m' } },
    // Unlimited: warms the proxy path before anything is bounded in time.
    { name: 'warm', prefix: '/warm', upstreams: [up.origin], rateLimit: false },
  ], {
    logging: { level: 'info', access: false },
    rateLimit: redisRateLimit(prefix, { onStoreError: mode }, redisUrl, timeout),
  }))
  assert.equal((await gw.inject('/warm')).statusCode, 200)
  return gw
}

for (const mode of MODES) {
  test(`Redis stalls for one reply, onStoreError ${mode}: that request alone gets the ${mode} answer, the next one is counted in Redis at once`, redisTestOptions, async (t) => {
    const proxy = await createTcpProxy(t)
    const { prefix, redis } = await testRedis(t)
    const gw = await gatewayOn(t, proxy.url, prefix, mode, STALL_TIMEOUT)
    const key = `${prefix}users:127.0.0.1`

    const first = await gw.inject('/api/users/1')
    assert.equal(first.statusCode, 200)
    assert.equal(first.headers['x-ratelimit-remaining'], String(MAX - 1))

    // The relay holds this request's command: Redis never sees it within the timeout.
    proxy.pause()
    const stalled = await within(HANG_GUARD_MS, gw.inject('/api/users/1'), 'the stalled request')
    if (mode === 'deny') {
      assert.equal(stalled.statusCode, 503)
      assert.match(String(stalled.headers['content-type']), /^application\/problem\+json/)
      assert.equal(stalled.json().code, 'GW_RATE_LIMIT_UNAVAILABLE')
    } else if (mode === 'local') {
      assert.equal(stalled.statusCode, 200)
      assert.equal(stalled.headers['x-ratelimit-remaining'], String(MAX - 1), 'counted by this instance alone')
    } else {
      assert.equal(stalled.statusCode, 200)
      assert.equal(stalled.headers['x-ratelimit-remaining'], undefined, 'no count to report')
    }
    assert.equal(await metricValue(gw, GAUGE), 1, 'a call timed out')

    // Redis answers again: the very next request is counted there, no probe awaited.
    proxy.resume()
    for (let i = 0; i < 2; i++) {
      const next = await within(HANG_GUARD_MS, gw.inject('/api/users/1'), `request ${i + 1} after the stall`)
      assert.equal(next.statusCode, 200, `request ${i + 1} after the stall`)
      // The stalled call's INCR reached Redis late and counts too.
      assert.equal(next.headers['x-ratelimit-remaining'], String(MAX - 3 - i), 'counted in Redis')
      assert.ok(next.headers['ratelimit-policy'], 'with the IETF pair')
    }
    assert.equal(await redis.get(key), '4')

    await waitFor('the degraded gauge to return to 0', async () => (await metricValue(gw, GAUGE)) === 0)
    assert.equal(countMsg(gw.logs, 'rate-limit store degraded'), 1)
    assert.equal(countMsg(gw.logs, 'rate-limit store recovered'), 1)
  })
}

// A timeout far above the bound: a request that waited for it could not pass.
const LONG_TIMEOUT = '2s'
const AT_ONCE_MS = 500

test('Redis connection down, onStoreError deny: every request is denied at once, not after redis.timeout', redisTestOptions, async (t) => {
  const proxy = await createTcpProxy(t)
  const { prefix } = await testRedis(t)
  const gw = await gatewayOn(t, proxy.url, prefix, 'deny', LONG_TIMEOUT)
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)

  await proxy.drop()
  await waitFor('the gateway to see the connection lost', async () => (await metricValue(gw, GAUGE)) === 1)
  for (let i = 0; i < 3; i++) {
    const r = await within(AT_ONCE_MS, gw.inject('/api/users/1'), `request ${i + 1} while disconnected`)
    assert.equal(r.statusCode, 503)
    assert.equal(r.json().code, 'GW_RATE_LIMIT_UNAVAILABLE')
  }

  await proxy.reopen()
  await waitFor('the degraded gauge to return to 0', async () => (await metricValue(gw, GAUGE)) === 0)
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
})

test('Redis never reachable (connection refused), onStoreError deny: denied at once, not after redis.timeout', redisTestOptions, async (t) => {
  const port = await closedPort()
  const { prefix } = await testRedis(t)
  const gw = await gatewayOn(t, `redis://${REDIS_HOST}:${port}`, prefix, 'deny', LONG_TIMEOUT)
  for (let i = 0; i < 3; i++) {
    const r = await within(AT_ONCE_MS, gw.inject('/api/users/1'), `request ${i + 1}`)
    assert.equal(r.statusCode, 503)
    assert.equal(r.json().code, 'GW_RATE_LIMIT_UNAVAILABLE')
  }
})

// The socket is open but Redis never finishes the handshake (ready check unanswered): not
// connected either. Nothing may queue a request's call for a connection that may never be
// ready (an offline queue would hold each for the whole timeout).
test('Redis accepts the socket but never gets ready, onStoreError deny: denied at once, not after redis.timeout', redisTestOptions, async (t) => {
  const proxy = await createTcpProxy(t)
  proxy.pause()
  const { prefix } = await testRedis(t)
  const gw = await gatewayOn(t, proxy.url, prefix, 'deny', LONG_TIMEOUT)
  assert.equal(await metricValue(gw, GAUGE), 1, 'not ready: degraded from the start')
  for (let i = 0; i < 3; i++) {
    const r = await within(AT_ONCE_MS, gw.inject('/api/users/1'), `request ${i + 1}`)
    assert.equal(r.statusCode, 503)
    assert.equal(r.json().code, 'GW_RATE_LIMIT_UNAVAILABLE')
  }
  proxy.resume()
  await waitFor('the degraded gauge to return to 0', async () => (await metricValue(gw, GAUGE)) === 0)
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
})

test('a Redis that hangs with its connection open piles up at most maxInFlight calls; past that a request fails over at once', redisTestOptions, async (t) => {
  const proxy = await createTcpProxy(t)
  const { prefix } = await testRedis(t)
  const store = new RedisRateLimitStore({
    config: { store: 'redis', redis: { url: proxy.url, keyPrefix: prefix, timeoutMs: 2000 }, onStoreError: 'deny', default: null },
    logger: pino({ level: 'silent' }) as unknown as FastifyBaseLogger,
    metrics: createGatewayMetrics(),
    maxInFlight: 2,
  })
  t.after(() => store.close())
  await store.started()
  const count = (key: string) => new Promise<{ err: Error | null, res?: IncrResult }>((resolve) => {
    store.incr(`${prefix}${key}`, (err, res) => resolve({ err, res }), 60_000, 100)
  })

  proxy.pause()
  const settled: string[] = []
  const pending = ['a', 'b'].map((k) => count(k).then((r) => { settled.push(k); return r }))
  const third = await within(AT_ONCE_MS, count('c'), 'the call past the bound')
  assert.ok(third.err instanceof StoreUnavailableError, String(third.err))
  assert.deepEqual(settled, [], 'the two calls in flight still wait for Redis')

  proxy.resume()
  for (const r of await Promise.all(pending)) assert.equal(r.res?.current, 1)
  const after = await count('c')
  assert.equal(after.err, null)
  assert.equal(after.res?.current, 1)
})
