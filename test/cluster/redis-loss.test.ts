// SPEC "Cluster": Redis unreachable for one instance (its connection cut by a relay):
// running routes keep serving, writes answer 503 GW_REGISTRY_UNAVAILABLE, the gauge reads
// 1; when Redis is back the instance converges on what the others stored meanwhile.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, baseConfig, type TestGateway } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { redisTestOptions, testRedis } from '../helpers/redis.ts'
import { createTcpProxy } from '../helpers/tcp-proxy.ts'
import { metricValue } from '../helpers/metrics.ts'
import { waitFor } from '../helpers/wait.ts'
import { ADMIN_TOKEN, deleteService, putService, registryConfig } from '../helpers/cluster.ts'

function clusterConfig (prefix: string, url?: string) {
  return baseConfig([], { admin: { token: ADMIN_TOKEN }, registry: registryConfig(prefix, url) })
}

const degraded = (gw: TestGateway) => metricValue(gw, 'gatehouse_registry_degraded')
const status = async (gw: TestGateway, path: string) => (await gw.inject(path)).statusCode

test('Redis lost: routes serve on, writes are 503 GW_REGISTRY_UNAVAILABLE, the gauge is 1; back: the instance converges on the stored set', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix } = await testRedis(t)
  const relay = await createTcpProxy(t)
  const cut = await createGateway(t, clusterConfig(prefix, relay.url))
  const other = await createGateway(t, clusterConfig(prefix))
  const svc = (p: string) => ({ prefix: p, upstreams: [up.origin], auth: 'none' })
  assert.equal((await other.gateway.admin.inject(putService('kept', svc('/api/kept')))).statusCode, 201)
  assert.equal((await other.gateway.admin.inject(putService('gone', svc('/api/gone')))).statusCode, 201)
  await waitFor('cut serves both', async () => (await status(cut, '/api/kept/1')) === 200 && (await status(cut, '/api/gone/1')) === 200, 1000)
  assert.equal(await degraded(cut), 0)

  await relay.drop()
  await waitFor('gauge 1', async () => (await degraded(cut)) === 1, 2000)
  assert.equal(await status(cut, '/api/kept/1'), 200)
  const refused = await cut.gateway.admin.inject(putService('new', svc('/api/new')))
  assert.equal(refused.statusCode, 503)
  assert.match(String(refused.headers['content-type']), /^application\/problem\+json/)
  assert.equal(refused.json().code, 'GW_REGISTRY_UNAVAILABLE')
  assert.doesNotMatch(refused.body, /127\.0\.0\.1|redis:/)
  assert.equal((await cut.gateway.admin.inject(deleteService('kept'))).json().code, 'GW_REGISTRY_UNAVAILABLE')
  await cut.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('registry store degraded'))

  // The others go on writing.
  assert.equal((await other.gateway.admin.inject(putService('added', svc('/api/added')))).statusCode, 201)
  assert.equal((await other.gateway.admin.inject(deleteService('gone'))).statusCode, 204)
  assert.equal(await status(cut, '/api/gone/1'), 200, 'the cut instance runs what it had')

  await relay.reopen()
  await waitFor('converged', async () => (await status(cut, '/api/added/1')) === 200 && (await status(cut, '/api/gone/1')) === 404, 3000)
  await waitFor('gauge 0', async () => (await degraded(cut)) === 0, 1000)
  assert.equal(await status(cut, '/api/kept/1'), 200)
  assert.equal((await cut.gateway.admin.inject(putService('new', svc('/api/new')))).statusCode, 201)
})

test('without Redis at start the instance is not ready; it loads the stored set and turns ready when Redis answers', redisTestOptions, async (t) => {
  const up = await createUpstream(t)
  const { prefix } = await testRedis(t)
  const other = await createGateway(t, clusterConfig(prefix))
  assert.equal((await other.gateway.admin.inject(putService('stored', { prefix: '/api/stored', upstreams: [up.origin], auth: 'none' }))).statusCode, 201)
  const relay = await createTcpProxy(t)
  await relay.drop()
  const late = await createGateway(t, clusterConfig(prefix, relay.url), { listen: true })
  const starting = await fetch(`${late.adminUrl}/readyz`)
  assert.equal(starting.status, 503)
  assert.deepEqual(await starting.json(), { status: 'starting' })
  assert.equal(await degraded(late), 1)

  await relay.reopen()
  await late.gateway.reloader.whenRegistryLoaded()
  assert.equal((await fetch(`${late.adminUrl}/readyz`)).status, 200)
  assert.equal((await fetch(`${late.url}/api/stored/1`)).status, 200)
})
