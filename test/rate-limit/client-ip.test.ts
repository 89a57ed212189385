import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { redisRateLimit } from './helpers.ts'
import { testRedis } from '../helpers/redis.ts'
import { redisTestOptions } from '../helpers/redis.ts'

// Real sockets: the peer address is what trustProxy judges.

async function get (url: string, xff?: string) {
  const res = await request(url, { headers: xff === undefined ? {} : { 'x-forwarded-for': xff } })
  await res.body.dump()
  return res.statusCode
}

test('trustProxy false: a spoofed X-Forwarded-For never buys a new budget', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix, keys } = await testRedis(t)
  const { url } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 2, window: '1m', by: 'ip' } },
  ], { rateLimit: redisRateLimit(prefix) }), { listen: true })

  assert.equal(await get(`${url}/api/users/1`, '198.51.100.1'), 200)
  assert.equal(await get(`${url}/api/users/1`, '198.51.100.2'), 200)
  assert.equal(await get(`${url}/api/users/1`, '198.51.100.3'), 429)
  assert.equal(await get(`${url}/api/users/1`, '203.0.113.9, 198.51.100.4'), 429)
  assert.deepEqual(await keys(), [`${prefix}users:127.0.0.1`])
})

test('trustProxy [127.0.0.1/32]: the client is the right-most X-Forwarded-For entry not in trustProxy', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix, keys, redis } = await testRedis(t)
  const { url } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 2, window: '1m', by: 'ip' } },
  ], { server: { trustProxy: ['127.0.0.1/32'] }, rateLimit: redisRateLimit(prefix) }), { listen: true })

  // Whatever a client writes left of the address our proxy saw is not the client.
  assert.equal(await get(`${url}/api/users/1`, '1.1.1.1, 198.51.100.7'), 200)
  assert.equal(await get(`${url}/api/users/1`, '2.2.2.2, 198.51.100.7'), 200)
  assert.equal(await get(`${url}/api/users/1`, '3.3.3.3, 198.51.100.7'), 429)
  // Trusted hops on the right are skipped.
  assert.equal(await get(`${url}/api/users/1`, '198.51.100.7, 127.0.0.1'), 429)
  // Another client behind the proxy has its own budget.
  assert.equal(await get(`${url}/api/users/1`, '198.51.100.8'), 200)
  // Every entry trusted: the left-most one is the client.
  assert.equal(await get(`${url}/api/users/1`, '127.0.0.1, 127.0.0.1'), 200)

  assert.deepEqual(await keys(), [
    `${prefix}users:127.0.0.1`,
    `${prefix}users:198.51.100.7`,
    `${prefix}users:198.51.100.8`,
  ])
  assert.equal(await redis.get(`${prefix}users:198.51.100.7`), '4')
})

test('every X-Forwarded-For entry trusted: the left-most one is the client', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix, keys } = await testRedis(t)
  const { url } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 2, window: '1m', by: 'ip' } },
  ], { server: { trustProxy: ['127.0.0.0/8'] }, rateLimit: redisRateLimit(prefix) }), { listen: true })

  assert.equal(await get(`${url}/api/users/1`, '127.0.0.5, 127.0.0.9'), 200)
  assert.equal(await get(`${url}/api/users/1`, '198.51.100.9, 127.0.0.9'), 200)
  assert.deepEqual(await keys(), [`${prefix}users:127.0.0.5`, `${prefix}users:198.51.100.9`])
})

test('IPv6 clients rotating addresses inside one /64 share one budget', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 2, window: '1m', by: 'ip' } },
  ], { rateLimit: { store: 'memory' } }))

  const from = (remoteAddress: string) => inject({ url: '/api/users/1', remoteAddress })
  assert.equal((await from('2001:db8:1:2::1')).statusCode, 200)
  assert.equal((await from('2001:db8:1:2:ffff:ffff:ffff:ffff')).statusCode, 200)
  assert.equal((await from('2001:db8:1:2:abcd::9')).statusCode, 429)
  assert.equal((await from('2001:db8:1:3::1')).statusCode, 200, 'the next /64 is another client')
})
