import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createUpstream } from '../../helpers/upstream.ts'
import { baseConfig, createGateway } from '../../helpers/gateway.ts'
import { redisRateLimit } from '../../rate-limit/helpers.ts'
import { redisTestOptions, testRedis } from '../../helpers/redis.ts'

// Advisories of @fastify/rate-limit (how they are tested: ./helpers.ts).

test('@fastify/rate-limit IPv6 rotation (fixed in 11.2.0; no GHSA id in the installed package): addresses in one /64 share a budget', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix, keys } = await testRedis(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 2, window: '1m', by: 'ip' } },
  ], { server: { trustProxy: ['127.0.0.1/32'] }, rateLimit: redisRateLimit(prefix) }), { listen: true })
  // Real sockets through a trusted proxy (127.0.0.1) that reports each client's address.
  const from = async (ip: string) => {
    const res = await request(`${gw.url}/api/users/1`, { headers: { 'x-forwarded-for': ip } })
    await res.body.dump()
    return res.statusCode
  }
  assert.equal(await from('2001:db8:1:2::1'), 200)
  assert.equal(await from('2001:db8:1:2:ffff:ffff:ffff:fffe'), 200)
  for (const rotated of ['2001:db8:1:2:abcd::9', '2001:DB8:1:2:0:0:0:42', '2001:0db8:0001:0002::7']) {
    assert.equal(await from(rotated), 429, `${rotated} is the same client`)
  }
  assert.equal(await from('2001:db8:1:3::1'), 200, 'the next /64 is another client')
  assert.equal(await from('198.51.100.7'), 200)
  assert.equal(await from('::ffff:198.51.100.7'), 200, 'IPv4-mapped: the same IPv4 client')
  assert.equal(await from('198.51.100.7'), 429)
  assert.deepEqual(await keys(), [`${prefix}users:198.51.100.7`, `${prefix}users:2001:db8:1:2::`, `${prefix}users:2001:db8:1:3::`])
  assert.equal(await from('192.0.2.1'), 200, 'another client still gets through')
})
