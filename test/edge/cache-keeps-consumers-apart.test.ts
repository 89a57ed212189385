import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { JWT_SECRET, bearer, sign } from '../helpers/tokens.ts'
import { countingUpstream, svc, cacheMetric } from './helpers.ts'

test('a request with credentials is never answered from or stored in the shared cache', async (t) => {
  const up = await countingUpstream(t)
  const { inject, gateway } = await createGateway(t, baseConfig([svc(up, { auth: 'required' })],
    { auth: { jwt: { secret: JWT_SECRET } } }))

  const alice = await inject({ url: '/api/items/me', headers: bearer(sign('alice')) })
  const bob = await inject({ url: '/api/items/me', headers: bearer(sign('bob')) })
  const alice2 = await inject({ url: '/api/items/me', headers: bearer(sign('alice')) })
  assert.equal(alice.json().consumer, 'alice')
  assert.equal(bob.json().consumer, 'bob')
  assert.equal(alice2.json().call, 3, 'not served from the cache either')
  assert.equal(up.calls(), 3)
  assert.equal(await cacheMetric(gateway, 'bypass'), 3)
})

test('an Authorization header on a service without auth also bypasses the shared cache', async (t) => {
  const up = await countingUpstream(t)
  const { inject } = await createGateway(t, baseConfig([svc(up)]))
  await inject('/api/items/1')
  const withCreds = await inject({ url: '/api/items/1', headers: { authorization: 'Basic dTpw' } })
  assert.equal(withCreds.headers['x-cache'], 'MISS')
  assert.equal(withCreds.json().call, 2)
})

test('perConsumer: each consumer has its own entries, never another consumer\'s', async (t) => {
  const up = await countingUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    svc(up, { auth: 'required', cache: { ttl: '1m', perConsumer: true } }),
  ], { auth: { jwt: { secret: JWT_SECRET } } }))

  const a1 = await inject({ url: '/api/items/me', headers: bearer(sign('alice')) })
  const b1 = await inject({ url: '/api/items/me', headers: bearer(sign('bob')) })
  const a2 = await inject({ url: '/api/items/me', headers: bearer(sign('alice')) })
  const b2 = await inject({ url: '/api/items/me', headers: bearer(sign('bob')) })
  assert.equal(up.calls(), 2)
  assert.deepEqual([a1.json().consumer, b1.json().consumer, a2.json().consumer, b2.json().consumer], ['alice', 'bob', 'alice', 'bob'])
  assert.deepEqual([a2.headers['x-cache'], b2.headers['x-cache']], ['HIT', 'HIT'])
})

test('configured vary headers and the response\'s own Vary keep variants apart', async (t) => {
  const up = await countingUpstream(t, () => ({ vary: 'X-Variant' }))
  const { inject } = await createGateway(t, baseConfig([svc(up, { cache: { ttl: '1m', vary: ['accept-language'] } })]))
  const get = (lang: string, variant: string) => inject({ url: '/api/items/1', headers: { 'accept-language': lang, 'x-variant': variant } })

  assert.equal((await get('en', 'a')).json().lang, 'en')
  assert.equal((await get('fr', 'a')).json().lang, 'fr')
  const enA = await get('en', 'a')
  assert.equal(enA.headers['x-cache'], 'HIT')
  assert.equal(enA.json().lang, 'en')
  // Same key, but the stored response varies on X-Variant: b is not a.
  const enB = await get('en', 'b')
  assert.equal(enB.headers['x-cache'], 'MISS')
  assert.equal(enB.json().variant, 'b')
  assert.equal(up.calls(), 3)
})
