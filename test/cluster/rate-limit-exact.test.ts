// SPEC "Cluster": instances share one count per key and window. 500 requests at once,
// spread over two instances, against a limit of 100: exactly 100 pass, and the answers'
// RateLimit headers count down 99..0 once each across both instances.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { redisTestOptions, testRedis } from '../helpers/redis.ts'
import { redisRateLimit } from '../rate-limit/helpers.ts'

const LIMIT = 100
const REQUESTS = 500

test(`two instances, ${REQUESTS} concurrent requests against a limit of ${LIMIT}: exactly ${LIMIT} pass`, redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix } = await testRedis(t)
  // deny: a Redis answer that came late would be a 503, never an extra pass counted locally.
  const config = baseConfig([
    { name: 'budget', prefix: '/api/budget', upstreams: [up.origin], rateLimit: { max: LIMIT, window: '1m', by: 'ip' } },
  ], { rateLimit: redisRateLimit(prefix, { onStoreError: 'deny' }) })
  const a = await createGateway(t, config, { listen: true })
  const b = await createGateway(t, config, { listen: true })

  const answers = await Promise.all(Array.from({ length: REQUESTS }, async (_, i) => {
    const res = await request(`${i % 2 === 0 ? a.url : b.url}/api/budget/${i}`)
    await res.body.dump()
    return { status: res.statusCode, rateLimit: String(res.headers.ratelimit), instance: i % 2 }
  }))
  const passed = answers.filter((r) => r.status === 200)
  assert.equal(passed.length, LIMIT)
  assert.equal(answers.filter((r) => r.status === 429).length, REQUESTS - LIMIT)
  assert.equal(up.requests.length, LIMIT)
  assert.ok(passed.some((r) => r.instance === 0) && passed.some((r) => r.instance === 1), 'both instances let some through')
  const remaining = passed.map((r) => Number(/;r=(\d+)/.exec(r.rateLimit)![1])).sort((x, y) => x - y)
  assert.deepEqual(remaining, Array.from({ length: LIMIT }, (_, i) => i))
  for (const r of answers.filter((x) => x.status === 429)) assert.match(r.rateLimit, /^"budget";r=0;t=\d+$/)
})
