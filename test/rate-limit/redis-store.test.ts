import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { RedisRateLimitStore } from '../../plugins/rate-limit/redis-store.ts'
import { createGatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'
import type { IncrResult } from '../../plugins/rate-limit/store.ts'
import { REDIS_URL, testRedis } from '../helpers/redis.ts'
import { redisTestOptions } from '../helpers/redis.ts'

function busyFor (ms: number) {
  const end = performance.now() + ms
  while (performance.now() < end) { /* the gateway is busy: no event-loop turn */ }
}

test('a Redis reply that arrived while the gateway was busy beats the timeout: our own event-loop lag is not Redis being slow', redisTestOptions, async (t) => {
  const { prefix, redis } = await testRedis(t)
  const logs: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { logs.push(line) } }) as unknown as FastifyBaseLogger
  const store = new RedisRateLimitStore({
    config: { store: 'redis', redis: { url: REDIS_URL, keyPrefix: prefix, timeoutMs: 50 }, onStoreError: 'deny', default: null },
    logger,
    metrics: createGatewayMetrics(),
  })
  t.after(() => store.close())
  await store.started()
  assert.equal(store.degraded, false)

  const answer = new Promise<{ err: Error | null; res?: IncrResult }>((resolve) => {
    store.incr(`${prefix}users:198.51.100.1`, (err, res) => resolve({ err, res }), 60_000, 10)
  })
  // Let the command reach the socket, then hold the event loop well past the timeout:
  // Redis answers meanwhile, the reply waits in the socket while the timer expires.
  await new Promise((resolve) => setImmediate(resolve))
  busyFor(300)
  const { err, res } = await answer
  assert.equal(err, null)
  assert.equal(res?.current, 1)
  assert.equal(store.degraded, false)
  assert.equal(logs.length, 0)
  assert.equal(await redis.get(`${prefix}users:198.51.100.1`), '1')
})

test('the counting script gives a key without expiry its window instead of keeping it forever', redisTestOptions, async (t) => {
  const { prefix, redis } = await testRedis(t)
  const store = new RedisRateLimitStore({
    config: { store: 'redis', redis: { url: REDIS_URL, keyPrefix: prefix, timeoutMs: 1000 }, onStoreError: 'deny', default: null },
    logger: pino({ level: 'silent' }) as unknown as FastifyBaseLogger,
    metrics: createGatewayMetrics(),
  })
  t.after(() => store.close())
  await store.started()
  const key = `${prefix}users:alice`
  await redis.set(key, '5') // e.g. written by hand, or restored without its TTL
  const res = await new Promise<IncrResult | undefined>((resolve, reject) => {
    store.incr(key, (err, r) => err ? reject(err) : resolve(r), 30_000, 10)
  })
  assert.equal(res?.current, 6)
  assert.equal(res?.ttl, 30_000)
  const pttl = await redis.pttl(key)
  assert.ok(pttl > 0 && pttl <= 30_000, `pttl ${pttl}`)
})
