import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createUpstream } from '../helpers/upstream.ts'
import { gatewayFromFiles, nextReload, serviceYaml } from './config-files.ts'
import { runCheck } from '../../apps/gateway/commands/check.ts'
import { metricValue } from '../helpers/metrics.ts'

const MAIN = 'logging: { level: info, access: false }\n'

test('reloading the main file applies services, servicesDir, log level, admin token and body limit; other sections wait for a restart', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, { 'users.yaml': serviceYaml('users', '/api/users', up.origin) }, { watch: true })
  const { ctx } = gw.gateway
  const timeouts = ctx.config.server.timeouts

  await mkdir(join(gw.dir, 'teams.d'))
  await writeFile(join(gw.dir, 'teams.d', 'orders.yaml'), serviceYaml('orders', '/api/orders', up.origin))
  await writeFile(gw.configFile, `servicesDir: ./teams.d
logging: { level: warn, access: false }
admin: { token: rotated }
server: { timeouts: { upstream: 5s }, bodyLimit: 16 }
auth: { jwt: { secret: not-applied-live } }
rateLimit: { default: { max: 1, window: 1m } }
services:
  - { name: main-svc, prefix: /api/main, upstreams: [${up.origin}], auth: none }
`)
  const event = await gw.reloader.reload('sighup')
  assert.equal(event.result, 'success')
  assert.deepEqual(event.added.sort(), ['main-svc', 'orders'])
  assert.deepEqual(event.removed, ['users'])

  assert.equal((await gw.inject('/api/main/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/users/1')).statusCode, 404)
  assert.equal(ctx.logger.level, 'warn')
  assert.equal(ctx.config.admin.token, 'rotated')
  assert.equal(ctx.config.servicesDir, join(gw.dir, 'teams.d'))
  const big = await gw.inject({ method: 'POST', url: '/api/main/1', payload: 'x'.repeat(32) })
  assert.equal(big.statusCode, 413)
  // Restart-only: the running values stay, and a warning says which keys wait.
  assert.equal(ctx.config.server.timeouts, timeouts)
  assert.equal(ctx.config.auth.jwt, null)
  assert.equal(ctx.config.rateLimit, null)
  const warn = gw.logs.find((l) => l.level === 40 && String(l.msg).startsWith('config change needs a restart'))
  assert.deepEqual(warn?.keys, ['server.timeouts', 'auth', 'rateLimit'])
  assert.ok(!JSON.stringify(gw.logs).includes('not-applied-live'), 'secrets are not logged')
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'success' }), 1)

  // The watcher moved to the new directory.
  const watched = nextReload(gw.reloader, (e) => e.trigger === 'watch' && e.result === 'success', 2000)
  await writeFile(join(gw.dir, 'teams.d', 'late.yaml'), serviceYaml('late', '/api/late', up.origin))
  assert.deepEqual((await watched).added, ['late'])
  assert.equal((await gw.inject('/api/late/1')).statusCode, 200)
})

test('a main-file reload that clashes with servicesDir is rejected whole, naming both places', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, { 'orders.yaml': serviceYaml('orders', '/api/orders', up.origin) })
  await writeFile(gw.configFile, `servicesDir: ./services.d\n${MAIN}services:\n  - { name: users, prefix: /api/orders, upstreams: [${up.origin}], auth: none }\n`)
  const event = await gw.reloader.reload('sighup')
  assert.equal(event.result, 'failure')
  const error = gw.logs.find((l) => l.level === 50)
  assert.match(String(error?.msg), /services\.d\/orders\.yaml: prefix: duplicate prefix "\/api\/orders" \(also service "users", gateway\.yaml: services\[0\]\.prefix\)/)
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 200)
  assert.equal(gw.gateway.current().services.map((s) => s.name).join(), 'orders')
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'failure' }), 1)
})

test('services kept in memory by the admin API survive a reload of the main file', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, `${MAIN}admin: { token: tkn }\n`, {}, { servicesDir: false })
  const put = await gw.gateway.admin.inject({
    method: 'PUT',
    url: '/admin/services/memo',
    headers: { authorization: 'Bearer tkn' },
    payload: { prefix: '/api/memo', upstreams: [up.origin], auth: 'none' },
  })
  assert.equal(put.statusCode, 201)
  await writeFile(gw.configFile, `${MAIN}admin: { token: tkn }\nservices:\n  - { name: users, prefix: /api/users, upstreams: [${up.origin}], auth: none }\n`)
  const event = await gw.reloader.reload('sighup')
  assert.deepEqual(event.added, ['users'])
  assert.equal((await gw.inject('/api/memo/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
})

test('gatehouse check validates the main file and servicesDir together (a clash across them is exit 1)', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, `${MAIN}services:\n  - { name: users, prefix: /api/users, upstreams: [${up.origin}], auth: none }\n`,
    { 'orders.yaml': serviceYaml('orders', '/api/orders', up.origin) })
  const out: string[] = []
  const err: string[] = []
  const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, env: {} }
  assert.equal(await runCheck({ config: gw.configFile }, io), 0)
  assert.equal(out.join(''), 'ok: 2 services\n')

  await gw.writeService('users.yaml', serviceYaml('users', '/api/people', up.origin))
  out.length = 0
  assert.equal(await runCheck({ config: gw.configFile }, io), 1)
  assert.equal(out.join(''), '')
  assert.equal(err.join(''), 'services.d/users.yaml: name: duplicate service name "users" (also gateway.yaml: services[0].name)\n')
})

test('a reload that changes only generation-wide settings (ipAccess) builds a new generation', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, { 'users.yaml': serviceYaml('users', '/api/users', up.origin) })
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  const generation = gw.gateway.current()
  await writeFile(gw.configFile, `servicesDir: ./services.d\n${MAIN}ipAccess: { deny: [127.0.0.1/32] }\n`)
  const event = await gw.reloader.reload('sighup')
  assert.equal(event.result, 'success')
  assert.deepEqual([event.added, event.removed, event.changed], [[], [], []])
  assert.notEqual(gw.gateway.current(), generation)
  const denied = await gw.inject('/api/users/1')
  assert.equal(denied.statusCode, 403)
  assert.equal(denied.json().code, 'GW_FORBIDDEN')

  // Rejected (the file is valid alone, but its new service needs the auth.jwt that
  // only a restart would bring): none of its live settings are kept either.
  await writeFile(gw.configFile, `servicesDir: ./services.d\n${MAIN.replace('info', 'debug')}ipAccess: { deny: [] }
auth: { jwt: { secret: s3cret } }
services:
  - { name: tokens, prefix: /api/tokens, upstreams: [${up.origin}] }
`)
  const rejected = await gw.reloader.reload('sighup')
  assert.equal(rejected.result, 'failure')
  assert.match(rejected.problems.map((p) => `${p.file}: ${p.path}: ${p.message}`).join(), /gateway\.yaml: services\[0\]\.auth: "required" needs auth\.jwt/)
  assert.equal(gw.gateway.ctx.logger.level, 'info')
  assert.deepEqual(gw.gateway.ctx.config.ipAccess, { allow: [], deny: ['127.0.0.1/32'] })
  assert.equal((await gw.inject('/api/users/1')).statusCode, 403)
})
