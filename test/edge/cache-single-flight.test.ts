import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'
import { countingUpstream, svc, cacheMetric, gate } from './helpers.ts'

test('100 concurrent GETs for a cold key make exactly one upstream call; the rest wait and are served from it', async (t) => {
  const release = gate()
  const up = await countingUpstream(t, () => ({}), release.promise)
  const { url, gateway } = await createGateway(t, baseConfig([svc(up)]), { listen: true })

  const pending = Array.from({ length: 100 }, () => request(`${url}/api/items/cold?x=1`))
  // The leader's call is held at the upstream until the other 99 are waiting on it.
  const { flights } = gateway.ctx.cacheStores.forService(gateway.current().services[0]!.config)
  await waitFor('99 waiting requests', () => (flights.get('/api/items/cold?x=1')?.waiters.length ?? 0) === 99)
  assert.equal(up.calls(), 1)
  release.open()

  const results = await Promise.all(pending.map(async (p) => {
    const res = await p
    return { status: res.statusCode, xCache: res.headers['x-cache'], body: await res.body.text() }
  }))
  assert.equal(up.calls(), 1)
  assert.ok(results.every((r) => r.status === 200 && JSON.parse(r.body).call === 1))
  assert.equal(results.filter((r) => r.xCache === 'MISS').length, 1)
  assert.equal(results.filter((r) => r.xCache === 'HIT').length, 99)
  assert.equal(await cacheMetric(gateway, 'miss'), 1)
  assert.equal(await cacheMetric(gateway, 'hit'), 99)
  // And the key is warm now.
  const again = await request(`${url}/api/items/cold?x=1`)
  assert.equal(again.headers['x-cache'], 'HIT')
  await again.body.dump()
  assert.equal(up.calls(), 1)
})

test('when the leader\'s answer cannot be stored, every waiter goes upstream itself instead of hanging', async (t) => {
  const release = gate()
  const up = await countingUpstream(t, () => ({ 'cache-control': 'no-store' }), release.promise)
  const { url, gateway } = await createGateway(t, baseConfig([svc(up)]), { listen: true })

  const pending = Array.from({ length: 5 }, () => request(`${url}/api/items/1`))
  const { flights } = gateway.ctx.cacheStores.forService(gateway.current().services[0]!.config)
  await waitFor('4 waiting requests', () => (flights.get('/api/items/1')?.waiters.length ?? 0) === 4)
  release.open()
  const results = await Promise.all(pending.map(async (p) => {
    const res = await p
    return { status: res.statusCode, xCache: res.headers['x-cache'], call: JSON.parse(await res.body.text()).call }
  }))
  assert.equal(up.calls(), 5)
  assert.ok(results.every((r) => r.status === 200 && r.xCache === 'MISS'))
  assert.deepEqual(results.map((r) => r.call).sort(), [1, 2, 3, 4, 5])
})
