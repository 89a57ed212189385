import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createUpstream } from '../helpers/upstream.ts'
import { gatewayFromFiles, nextReload, serviceYaml } from './config-files.ts'
import type { ReloadEvent } from '../../apps/gateway/reload/index.ts'
import { metricValue, scrape, value } from '../helpers/metrics.ts'

const MAIN = 'logging: { level: info, access: false }\n'

test('a new file in servicesDir becomes routable within 2 s, with no restart', async (t) => {
  const users = await createUpstream(t)
  const orders = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, { 'users.yaml': serviceYaml('users', '/api/users', users.origin) }, { watch: true })
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 404)

  const started = Date.now()
  const reloaded = nextReload(gw.reloader, (e) => e.result === 'success', 2000)
  await gw.writeService('orders.yaml', serviceYaml('orders', '/api/orders', orders.origin))
  const event = await reloaded
  const elapsed = Date.now() - started
  t.diagnostic(`picked up in ${elapsed} ms`)
  assert.equal(event.trigger, 'watch')
  assert.deepEqual(event.added, ['orders'])
  assert.ok(elapsed < 2000)

  const res = await gw.inject('/api/orders/1')
  assert.equal(res.statusCode, 200)
  assert.equal(orders.requests.at(-1)?.url, '/1')
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'success' }), 1)
  assert.ok(gw.logs.some((l) => l.msg === 'config reloaded' && (l.added as string[]).includes('orders')))
})

test('an editor saving through a temp file and rename is picked up', async (t) => {
  const a = await createUpstream(t)
  const b = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, { 'users.yaml': serviceYaml('users', '/api/users', a.origin) }, { watch: true })
  const reloaded = nextReload(gw.reloader, (e) => e.result === 'success', 2000)
  await gw.replaceService('users.yaml', serviceYaml('users', '/api/users', b.origin))
  assert.deepEqual((await reloaded).changed, ['users'])
  assert.equal((await gw.inject('/api/users/x')).statusCode, 200)
  assert.equal(b.requests.length, 1)
  assert.equal(a.requests.length, 0)
})

test('a broken file is rejected whole: old routes answer, failure counted, error names file and key path; fixing it applies', async (t) => {
  const users = await createUpstream(t)
  const orders = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, { 'users.yaml': serviceYaml('users', '/api/users', users.origin) }, { watch: true })

  // One good change and one bad file in the same burst: neither applies.
  const failed = nextReload(gw.reloader, (e) => e.result === 'failure', 2000)
  await gw.writeService('users.yaml', serviceYaml('users', '/api/users-v2', users.origin))
  await gw.writeService('orders.yaml', serviceYaml('orders', '/api/orders', 'localhost:3002'))
  const event = await failed
  assert.equal(event.trigger, 'watch')

  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/users-v2/1')).statusCode, 404)
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 404)
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'failure' }), 1)
  const error = gw.logs.find((l) => l.level === 50 && String(l.msg).startsWith('config reload rejected'))
  assert.ok(error, 'an error-level line')
  assert.match(String(error.msg), /services\.d\/orders\.yaml: upstreams\[0\]: must be an http\(s\) URL/)
  assert.ok((error.errors as string[]).includes('services.d/orders.yaml: upstreams[0]: must be an http(s) URL'))
  const { families } = await scrape(gw)
  assert.equal(value(families, 'gatehouse_config_reloads_total', { result: 'failure' }), 1)

  const fixed = nextReload(gw.reloader, (e) => e.result === 'success', 2000)
  await gw.writeService('orders.yaml', serviceYaml('orders', '/api/orders', orders.origin))
  const applied = await fixed
  assert.deepEqual(applied.added, ['orders'])
  assert.deepEqual(applied.changed, ['users'])
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/users-v2/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/users/1')).statusCode, 404)
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'success' }), 1)
})

test('names and prefixes must stay unique across the main file and servicesDir', async (t) => {
  const up = await createUpstream(t)
  const main = `${MAIN}services:\n  - { name: users, prefix: /api/users, upstreams: [${up.origin}], auth: none }\n`
  const gw = await gatewayFromFiles(t, main, {}, { watch: true })
  const failed = nextReload(gw.reloader, (e) => e.result === 'failure', 2000)
  await gw.writeService('copy.yaml', serviceYaml('users', '/api/people', up.origin))
  const event = await failed
  assert.match(event.problems.map((p) => `${p.file}: ${p.path}: ${p.message}`).join('\n'),
    /services\.d\/copy\.yaml: name: duplicate service name "users" \(also gateway\.yaml: services\[0\]\.name\)/)
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/people/1')).statusCode, 404)
})

test('a deleted file removes its service: 404 afterwards, its upstream state released', async (t) => {
  const users = await createUpstream(t)
  const orders = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, {
    'users.yaml': serviceYaml('users', '/api/users', users.origin),
    'orders.yaml': serviceYaml('orders', '/api/orders', orders.origin, 'healthCheck: { path: /health, interval: 100ms }\n'),
  }, { watch: true })
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 200)
  const usersState = [...gw.gateway.ctx.upstreams.entries()].find(([k]) => k.startsWith('users\u0000'))?.[1]
  assert.ok(usersState)

  const removed = nextReload(gw.reloader, (e) => e.result === 'success', 2000)
  await gw.removeService('orders.yaml')
  assert.deepEqual((await removed).removed, ['orders'])
  const res = await gw.inject('/api/orders/1')
  assert.equal(res.statusCode, 404)
  assert.equal(res.json().code, 'GW_NOT_FOUND')
  assert.deepEqual([...gw.gateway.ctx.upstreams.keys()].map((k) => k.split('\u0000')[0]), ['users'])
  // The unchanged service kept its very state object.
  assert.equal([...gw.gateway.ctx.upstreams.values()][0], usersState)
})

test('a watched burst of changes is applied together, and an unchanged rewrite is a silent no-op', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, { 'users.yaml': serviceYaml('users', '/api/users', up.origin) }, { watch: true })
  const touched = nextReload(gw.reloader, () => true, 2000)
  await gw.writeService('users.yaml', serviceYaml('users', '/api/users', up.origin))
  assert.equal((await touched).result, 'unchanged')
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'success' }), 0)
  const generation = gw.gateway.current()

  // Debounced: the five writes (a few ms apart) land in fewer reloads than files.
  const added: string[] = []
  let reloads = 0
  const allAdded = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`only ${added.join(',')} added within 3 s`)), 3000)
    function finish (err?: Error) {
      clearTimeout(timer)
      gw.reloader.off('reload', onReload)
      if (err) reject(err)
      else resolve()
    }
    function onReload (e: ReloadEvent) {
      if (e.result === 'failure') return finish(new Error('a reload failed'))
      if (e.result !== 'success') return
      reloads++
      added.push(...e.added)
      if (added.length === 5) finish()
    }
    gw.reloader.on('reload', onReload)
  })
  for (let i = 0; i < 5; i++) await gw.writeService(`s${i}.yaml`, serviceYaml(`s${i}`, `/api/s${i}`, up.origin))
  await allAdded
  t.diagnostic(`5 files, ${reloads} reload(s)`)
  assert.ok(reloads < 5)
  assert.deepEqual(added.sort(), ['s0', 's1', 's2', 's3', 's4'])
  assert.notEqual(gw.gateway.current(), generation)
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'success' }), reloads)
})
