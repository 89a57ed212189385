// SPEC "Cluster" with real processes: two `gatehouse` CLIs sharing a redis-server of this
// test's own (its own port and dir, append-only, stopped by pid). A PUT on one is served
// by the other within 1 s, a DELETE too; the redis-server killed by its pid: writes are
// 503, routes serve, both gauges read 1; started again on its port: both converge.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { CLI, spawnNode } from '../helpers/process.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { RedisServerMissing, startRedisServer, type RedisServer } from '../helpers/redis-server.ts'
import { waitFor } from '../helpers/wait.ts'
import { ADMIN_AUTH, ADMIN_TOKEN } from '../helpers/cluster.ts'

interface Instance { url: string, adminUrl: string }

async function startInstance (t: TestContext, dir: string, name: string, redisUrl: string): Promise<Instance> {
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, `
server: { host: 127.0.0.1, port: 0, timeouts: { drain: 1s } }
admin: { host: 127.0.0.1, port: 0, token: ${ADMIN_TOKEN} }
logging: { level: info, access: false }
rateLimit: { store: redis, redis: { url: "${redisUrl}", keyPrefix: "cluster-test:rl:" } }
registry: { store: redis, redis: { url: "${redisUrl}", keyPrefix: "cluster-test:registry:" } }
`)
  const proc = spawnNode(t, [CLI, '--config', file])
  await proc.waitFor(/gateway listening/)
  const line = proc.stdout().split('\n').find((l) => l.includes('gateway listening'))!
  const { publicUrl, adminUrl } = JSON.parse(line) as { publicUrl: string, adminUrl: string }
  return { url: publicUrl, adminUrl }
}

async function call (url: string, init: { method?: 'PUT' | 'DELETE', body?: unknown } = {}) {
  const res = await request(url, {
    method: init.method ?? 'GET',
    headers: init.body === undefined ? ADMIN_AUTH : { ...ADMIN_AUTH, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await res.body.text()
  return { status: res.statusCode, text }
}

const gauge = async (i: Instance, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await call(`${i.adminUrl}/metrics`)).text)?.[1])

test('two gateway processes: a PUT on one is served by the other within 1 s, a DELETE too; Redis killed and restarted: 503, gauges, convergence', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-cluster-test-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  let redis: RedisServer
  try {
    redis = await startRedisServer(undefined, { dir, appendOnly: true })
  } catch (err) {
    if (err instanceof RedisServerMissing) return t.skip('needs redis-server: apt-get install redis-server')
    throw err
  }
  t.after(() => redis.stop())
  const up = await createUpstream(t)
  const [a, b] = await Promise.all([startInstance(t, dir, 'a', redis.url), startInstance(t, dir, 'b', redis.url)])
  const svc = { prefix: '/api/shared', upstreams: [up.origin], auth: 'none' }

  assert.equal((await call(`${a.adminUrl}/admin/services/shared`, { method: 'PUT', body: svc })).status, 201)
  await waitFor('b serves the PUT made on a', async () => (await call(`${b.url}/api/shared/1`)).status === 200, 1000)
  assert.match((await call(`${b.adminUrl}/admin/services/shared`)).text, /"source":"registry"/)
  assert.equal((await call(`${b.adminUrl}/admin/services/shared`, { method: 'DELETE' })).status, 204)
  await waitFor('a drops the service b deleted', async () => (await call(`${a.url}/api/shared/1`)).status === 404, 1000)

  assert.equal((await call(`${a.adminUrl}/admin/services/kept`, { method: 'PUT', body: { ...svc, prefix: '/api/kept' } })).status, 201)
  await waitFor('b serves kept', async () => (await call(`${b.url}/api/kept/1`)).status === 200, 1000)

  const port = Number(new URL(redis.url).port)
  process.kill(redis.pid, 'SIGKILL')
  await redis.stop()
  for (const i of [a, b]) {
    await waitFor('registry gauge 1', async () => (await gauge(i, 'gatehouse_registry_degraded')) === 1, 3000)
    await waitFor('rate-limit gauge 1', async () => { await call(`${i.url}/api/kept/1`); return (await gauge(i, 'gatehouse_ratelimit_store_degraded')) === 1 }, 3000)
    assert.equal((await call(`${i.url}/api/kept/1`)).status, 200)
    const refused = await call(`${i.adminUrl}/admin/services/new`, { method: 'PUT', body: { ...svc, prefix: '/api/new' } })
    assert.equal(refused.status, 503)
    assert.equal(JSON.parse(refused.text).code, 'GW_REGISTRY_UNAVAILABLE')
  }

  redis = await startRedisServer(undefined, { dir, port, appendOnly: true })
  for (const i of [a, b]) {
    await waitFor('registry gauge 0', async () => (await gauge(i, 'gatehouse_registry_degraded')) === 0, 5000)
    assert.equal((await call(`${i.url}/api/kept/1`)).status, 200)
  }
  assert.equal((await call(`${b.adminUrl}/admin/services/new`, { method: 'PUT', body: { ...svc, prefix: '/api/new' } })).status, 201)
  await waitFor('a serves the PUT made on b after the restart', async () => (await call(`${a.url}/api/new/1`)).status === 200, 1000)
})
