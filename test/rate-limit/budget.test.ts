import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { redisRateLimit } from './helpers.ts'
import { metricValue } from '../helpers/metrics.ts'
import { testRedis } from '../helpers/redis.ts'
import { redisTestOptions } from '../helpers/redis.ts'

const STORES = ['memory', 'redis'] as const
const needs = (store: typeof STORES[number]) => store === 'redis' ? redisTestOptions : {}

async function rateLimitSection (t: TestContext, store: typeof STORES[number], extra: Record<string, unknown> = {}) {
  if (store === 'memory') return { store: 'memory', ...extra }
  const { prefix } = await testRedis(t)
  return redisRateLimit(prefix, extra)
}

function assertLimitHeaders (headers: Record<string, unknown>, service: string, max: number, windowS: number, remaining: number) {
  assert.equal(headers['x-ratelimit-limit'], String(max))
  assert.equal(headers['x-ratelimit-remaining'], String(remaining))
  const reset = Number(headers['x-ratelimit-reset'])
  assert.ok(Number.isInteger(reset) && reset >= 1 && reset <= windowS, `reset ${headers['x-ratelimit-reset']}`)
  assert.equal(headers['ratelimit-policy'], `"${service}";q=${max};w=${windowS}`)
  assert.equal(headers.ratelimit, `"${service}";r=${remaining};t=${reset}`)
}

for (const store of STORES) {
  test(`${store}: the N+1th request is 429 problem+json with Retry-After and limit headers, the first N carry the headers too`, needs(store), async (t) => {
    const up = await createUpstream(t)
    const rateLimit = await rateLimitSection(t, store)
    const { inject, gateway } = await createGateway(t, baseConfig([
      { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 3, window: '1m' } },
    ], { rateLimit }))

    for (let i = 1; i <= 3; i++) {
      const res = await inject('/api/users/1')
      assert.equal(res.statusCode, 200)
      assertLimitHeaders(res.headers, 'users', 3, 60, 3 - i)
    }
    const res = await inject('/api/users/1')
    assert.equal(res.statusCode, 429)
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
    const body = res.json()
    assert.equal(body.code, 'GW_RATE_LIMITED')
    assert.equal(body.status, 429)
    assert.equal(typeof body.requestId, 'string')
    assertLimitHeaders(res.headers, 'users', 3, 60, 0)
    assert.equal(res.headers['retry-after'], res.headers['x-ratelimit-reset'])
    assert.equal(up.requests.length, 3, 'the refused request never reached the upstream')

    assert.equal(await metricValue(gateway, 'gatehouse_rate_limited_total', { service: 'users' }), 1)
  })

  test(`${store}: a route's own rateLimit has its own counter, apart from the service's`, needs(store), async (t) => {
    const up = await createUpstream(t)
    const rateLimit = await rateLimitSection(t, store)
    const { inject } = await createGateway(t, baseConfig([{
      name: 'users',
      prefix: '/api/users',
      upstreams: [up.origin],
      rateLimit: { max: 2, window: '1m' },
      routes: [{ methods: ['POST'], path: '/api/users/login', rateLimit: { max: 1, window: '10s' } }],
    }], { rateLimit }))

    const login1 = await inject({ method: 'POST', url: '/api/users/login' })
    assert.equal(login1.statusCode, 200)
    assertLimitHeaders(login1.headers, 'users', 1, 10, 0)
    // Spelled differently, still the login route (trailing slash, escaped letter).
    assert.equal((await inject({ method: 'POST', url: '/api/users/login/' })).statusCode, 429)
    assert.equal((await inject({ method: 'POST', url: '/api/users/%6Cogin' })).statusCode, 429)

    // The service budget was not touched by the route's requests.
    for (let i = 1; i <= 2; i++) {
      const res = await inject('/api/users/7')
      assert.equal(res.statusCode, 200)
      assertLimitHeaders(res.headers, 'users', 2, 60, 2 - i)
    }
    assert.equal((await inject('/api/users/7')).statusCode, 429)
    // GET on the login path is not the POST route: the (spent) service budget applies.
    assert.equal((await inject('/api/users/login')).statusCode, 429)
  })

  test(`${store}: counters survive a reload that keeps the service`, needs(store), async (t) => {
    const up = await createUpstream(t)
    const rateLimit = await rateLimitSection(t, store)
    const { inject, gateway, config } = await createGateway(t, baseConfig([
      { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 2, window: '1m' } },
    ], { rateLimit }))

    assert.equal((await inject('/api/users/1')).statusCode, 200)
    const before = gateway.current()
    await gateway.applyServices(config.services)
    assert.notEqual(gateway.current(), before, 'a new generation serves')
    const second = await inject('/api/users/1')
    assert.equal(second.statusCode, 200)
    assert.equal(second.headers['x-ratelimit-remaining'], '0')
    assert.equal((await inject('/api/users/1')).statusCode, 429)
  })
}

test('rateLimit.default applies to services without their own policy; rateLimit: false turns it off', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin] },
    { name: 'open', prefix: '/api/open', upstreams: [up.origin], rateLimit: false },
  ], { rateLimit: { default: { max: 1, window: '1m' } } }))

  const first = await inject('/api/users/1')
  assert.equal(first.headers['ratelimit-policy'], '"users";q=1;w=60')
  assert.equal((await inject('/api/users/1')).statusCode, 429)
  for (let i = 0; i < 3; i++) {
    const res = await inject('/api/open/1')
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-ratelimit-limit'], undefined)
    assert.equal(res.headers['ratelimit'], undefined)
  }
})

test('two services never share a budget for the same client', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin] },
    { name: 'orders', prefix: '/api/orders', upstreams: [up.origin] },
  ], { rateLimit: { default: { max: 1, window: '1m' } } }))

  assert.equal((await inject('/api/users/1')).statusCode, 200)
  assert.equal((await inject('/api/users/1')).statusCode, 429)
  const orders = await inject('/api/orders/1')
  assert.equal(orders.statusCode, 200)
  assert.equal(orders.headers['ratelimit-policy'], '"orders";q=1;w=60')
})

test('without any rate limit in the config nothing is counted and no limit header is sent', async (t) => {
  const up = await createUpstream(t)
  const { inject, gateway } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin] },
  ]))
  assert.equal(gateway.ctx.config.rateLimit, null)
  assert.equal(gateway.ctx.rateLimitStore, null)
  for (let i = 0; i < 3; i++) {
    const res = await inject('/api/users/1')
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-ratelimit-limit'], undefined)
  }
})

test('unmatched paths (404) are neither counted nor given limit headers', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin] },
  ], { rateLimit: { default: { max: 1, window: '1m' } } }))
  for (let i = 0; i < 3; i++) {
    const res = await inject('/nowhere')
    assert.equal(res.statusCode, 404)
    assert.equal(res.headers['x-ratelimit-limit'], undefined)
  }
  assert.equal((await inject('/api/users/1')).statusCode, 200)
})

test("an upstream's own rate-limit headers never replace the gateway's budget on a limited route", async (t) => {
  const up = await createUpstream(t, (_req, res) => {
    res.writeHead(200, { 'x-ratelimit-limit': '1000000', 'x-ratelimit-remaining': '999999', ratelimit: '"app";r=999999;t=1', 'ratelimit-policy': '"app";q=1000000;w=1' })
    res.end('{}')
  })
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 5, window: '1m' } },
    { name: 'free', prefix: '/api/free', upstreams: [up.origin], rateLimit: false },
  ], { rateLimit: { store: 'memory' } }))
  const res = await inject('/api/users/1')
  assertLimitHeaders(res.headers, 'users', 5, 60, 4)
  const free = await inject('/api/free/1')
  assert.equal(free.headers['x-ratelimit-limit'], '1000000', 'unlimited routes relay the upstream headers as they are')
})
