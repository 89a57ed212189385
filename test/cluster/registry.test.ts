// SPEC "Cluster: many instances, one gateway": two gateway instances in one process
// sharing the test run's Redis as their registry. Each test has a key prefix of its own.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, baseConfig, type TestGateway } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { redisTestOptions, testRedis } from '../helpers/redis.ts'
import { waitFor } from '../helpers/wait.ts'
import { ADMIN_AUTH, ADMIN_TOKEN, deleteService, putService, registryConfig } from '../helpers/cluster.ts'

function clusterConfig (prefix: string, services: Array<Record<string, unknown>> = []) {
  return baseConfig(services, { admin: { token: ADMIN_TOKEN }, registry: registryConfig(prefix) })
}

async function status (gw: TestGateway, path: string): Promise<number> {
  return (await gw.inject(path)).statusCode
}

async function sources (gw: TestGateway): Promise<Record<string, string>> {
  const res = await gw.gateway.admin.inject({ url: '/admin/services', headers: ADMIN_AUTH })
  return Object.fromEntries((res.json().services as Array<{ name: string, source: string }>).map((s) => [s.name, s.source]))
}

test('a PUT on one instance is served by the other within 1 s (source: registry); a DELETE on the other removes it from both', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix } = await testRedis(t)
  const a = await createGateway(t, clusterConfig(prefix))
  const b = await createGateway(t, clusterConfig(prefix))

  const created = await a.gateway.admin.inject(putService('orders', { prefix: '/api/orders', upstreams: [up.origin], auth: 'none' }))
  assert.equal(created.statusCode, 201, created.body)
  assert.equal(created.json().source, 'registry')
  // The instance that took the write serves it when it answers.
  assert.equal(await status(a, '/api/orders/1'), 200)
  await waitFor('b serves orders', async () => (await status(b, '/api/orders/1')) === 200, 1000)
  assert.deepEqual(await sources(b), { orders: 'registry' })

  const replaced = await b.gateway.admin.inject(putService('orders', { prefix: '/api/orders2', upstreams: [up.origin], auth: 'none' }))
  assert.equal(replaced.statusCode, 200, replaced.body)
  await waitFor('a moves orders to its new prefix', async () => (await status(a, '/api/orders2/1')) === 200, 1000)
  assert.equal(await status(a, '/api/orders/1'), 404)

  const removed = await b.gateway.admin.inject(deleteService('orders'))
  assert.equal(removed.statusCode, 204)
  await waitFor('a drops orders', async () => (await status(a, '/api/orders2/1')) === 404, 1000)
  assert.equal((await a.gateway.admin.inject({ url: '/admin/services/orders', headers: ADMIN_AUTH })).statusCode, 404)
  assert.equal((await a.gateway.admin.inject(deleteService('orders'))).json().code, 'GW_NOT_FOUND')
})

test('conflicts are checked against the whole cluster: a prefix taken on another instance, a main-file service, an invalid body', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix } = await testRedis(t)
  const fileService = { name: 'users', prefix: '/api/users', upstreams: [up.origin] }
  const a = await createGateway(t, clusterConfig(prefix, [fileService]))
  const b = await createGateway(t, clusterConfig(prefix, [fileService]))

  assert.equal((await a.gateway.admin.inject(putService('x', { prefix: '/api/x', upstreams: [up.origin], auth: 'none' }))).statusCode, 201)
  // b has not necessarily seen x yet: Redis checks the prefix with the write.
  const clash = await b.gateway.admin.inject(putService('y', { prefix: '/api/x', upstreams: [up.origin], auth: 'none' }))
  assert.equal(clash.statusCode, 409)
  assert.equal(clash.json().code, 'GW_CONFLICT')
  assert.match(clash.json().detail, /"\/api\/x" is already used by service "x"/)

  const readOnly = await b.gateway.admin.inject(putService('users', { prefix: '/api/u', upstreams: [up.origin], auth: 'none' }))
  assert.equal(readOnly.statusCode, 409)
  assert.equal((await b.gateway.admin.inject(deleteService('users'))).statusCode, 409)
  const filePrefix = await b.gateway.admin.inject(putService('z', { prefix: '/api/users', upstreams: [up.origin], auth: 'none' }))
  assert.equal(filePrefix.statusCode, 409)

  const bad = await b.gateway.admin.inject(putService('w', { prefix: '/api/w', upstreams: ['ftp://nope'], auth: 'none' }))
  assert.equal(bad.statusCode, 400)
  assert.equal(bad.json().code, 'GW_INVALID_CONFIG')
  await waitFor('b has x', async () => (await status(b, '/api/x/1')) === 200, 1000)
  assert.deepEqual(await sources(b), { users: 'config', x: 'registry' })
})

test('two writes to one name: the later one (in Redis order) wins on every instance', redisTestOptions, async (t) => {
  const ups = await Promise.all([0, 1, 2, 3, 4, 5].map(() => createUpstream(t)))
  const { prefix } = await testRedis(t)
  const a = await createGateway(t, clusterConfig(prefix))
  const b = await createGateway(t, clusterConfig(prefix))
  const body = (i: number) => ({ prefix: '/api/race', upstreams: [ups[i]!.origin], auth: 'none' })

  // In sequence: b's write is the later one.
  assert.equal((await a.gateway.admin.inject(putService('race', body(0)))).statusCode, 201)
  assert.equal((await b.gateway.admin.inject(putService('race', body(1)))).statusCode, 200)
  const runs = (gw: TestGateway) => gw.gateway.current().services.find((s) => s.name === 'race')?.config.upstreams[0]
  await waitFor('both on the later write', () => runs(a) === ups[1]!.origin && runs(b) === ups[1]!.origin, 1000)

  // At once, from both sides: whichever Redis ran last is what both run.
  await Promise.all([2, 3, 4, 5].map((i) => (i % 2 === 0 ? a : b).gateway.admin.inject(putService('race', body(i)))))
  const { redis } = await testRedis(t)
  const stored = JSON.parse((await redis.hget(`${prefix}registry:services`, 'race'))!).body.upstreams[0]
  assert.ok([2, 3, 4, 5].some((i) => ups[i]!.origin === stored))
  await waitFor('both on the stored write', () => runs(a) === stored && runs(b) === stored, 1000)
})

test('an instance started later loads the stored services before /readyz turns 200', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix } = await testRedis(t)
  const a = await createGateway(t, clusterConfig(prefix))
  for (const name of ['one', 'two']) {
    assert.equal((await a.gateway.admin.inject(putService(name, { prefix: `/api/${name}`, upstreams: [up.origin], auth: 'none' }))).statusCode, 201)
  }
  const late = await createGateway(t, clusterConfig(prefix), { listen: true })
  const ready = await fetch(`${late.adminUrl}/readyz`)
  assert.equal(ready.status, 200)
  for (const name of ['one', 'two']) assert.equal((await fetch(`${late.url}/api/${name}/1`)).status, 200)
})
