import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { redisRateLimit } from './helpers.ts'
import { testRedis } from '../helpers/redis.ts'
import { JWT_SECRET, sign } from '../helpers/tokens.ts'
import { redisTestOptions } from '../helpers/redis.ts'

test('by consumer: two consumers from one address have separate budgets, keyed by JWT sub', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix, keys } = await testRedis(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required', rateLimit: { max: 2, window: '1m' } },
  ], { auth: { jwt: { secret: JWT_SECRET } }, rateLimit: redisRateLimit(prefix) }))

  const as = (sub: string) => inject({ url: '/api/users/1', headers: { authorization: `Bearer ${sign(sub)}` } })
  assert.equal((await as('alice')).statusCode, 200)
  assert.equal((await as('alice')).statusCode, 200)
  assert.equal((await as('alice')).statusCode, 429)
  const bob = await as('bob')
  assert.equal(bob.statusCode, 200)
  assert.equal(bob.headers['x-ratelimit-remaining'], '1')
  assert.deepEqual(await keys(), [`${prefix}users:alice`, `${prefix}users:bob`])
})

test('by consumer: anonymous callers of an auth-optional service are counted by client IP', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix, keys } = await testRedis(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'optional', rateLimit: { max: 1, window: '1m' } },
  ], { auth: { jwt: { secret: JWT_SECRET } }, rateLimit: redisRateLimit(prefix) }))

  assert.equal((await inject({ url: '/api/users/1', remoteAddress: '198.51.100.20' })).statusCode, 200)
  assert.equal((await inject({ url: '/api/users/1', remoteAddress: '198.51.100.20' })).statusCode, 429)
  // The same address with a token is that consumer, not the address.
  const withToken = await inject({ url: '/api/users/1', remoteAddress: '198.51.100.20', headers: { authorization: `Bearer ${sign('carol')}` } })
  assert.equal(withToken.statusCode, 200)
  assert.deepEqual(await keys(), [`${prefix}users:198.51.100.20`, `${prefix}users:carol`])
})

test('by ip: one address is one budget whatever tokens it presents', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required', rateLimit: { max: 1, window: '1m', by: 'ip' } },
  ], { auth: { jwt: { secret: JWT_SECRET } }, rateLimit: { store: 'memory' } }))

  const as = (sub: string) => inject({ url: '/api/users/1', headers: { authorization: `Bearer ${sign(sub)}` } })
  assert.equal((await as('alice')).statusCode, 200)
  assert.equal((await as('bob')).statusCode, 429)
})
