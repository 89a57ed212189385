import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { redisRateLimit } from './helpers.ts'
import { testRedis } from '../helpers/redis.ts'
import { redisTestOptions } from '../helpers/redis.ts'

test('two gateway instances sharing Redis enforce one combined budget', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix, redis } = await testRedis(t)
  const config = baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 4, window: '1m' } },
  ], { rateLimit: redisRateLimit(prefix) })
  const a = await createGateway(t, config)
  const b = await createGateway(t, config)
  assert.notEqual(a.gateway.ctx.rateLimitStore, b.gateway.ctx.rateLimitStore)

  const statuses: number[] = []
  const remaining: unknown[] = []
  for (let i = 0; i < 6; i++) {
    const res = await (i % 2 === 0 ? a : b).inject('/api/users/1')
    statuses.push(res.statusCode)
    remaining.push(res.headers['x-ratelimit-remaining'])
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429])
  assert.deepEqual(remaining, ['3', '2', '1', '0', '0', '0'])
  assert.equal(up.requests.length, 4)
  assert.equal(await redis.get(`${prefix}users:127.0.0.1`), '6')
})

test('memory store: each instance counts alone (why ops use Redis behind a load balancer)', async (t) => {
  const up = await createUpstream(t)
  const config = baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 1, window: '1m' } },
  ], { rateLimit: { store: 'memory' } })
  const a = await createGateway(t, config)
  const b = await createGateway(t, config)
  assert.equal((await a.inject('/api/users/1')).statusCode, 200)
  assert.equal((await b.inject('/api/users/1')).statusCode, 200)
  assert.equal((await a.inject('/api/users/1')).statusCode, 429)
})
