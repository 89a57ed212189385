// One file for the admin API's service lifecycle (PUT, GET, DELETE and their write-back),
// a little over ~250 lines: the tests share one gateway set-up and read as one story.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'yaml'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { gatewayFromFiles, nextReload, serviceYaml } from '../reload/config-files.ts'
import { metricValue } from '../helpers/metrics.ts'

const TOKEN = 'admin-token-for-tests'
const AUTH = { authorization: `Bearer ${TOKEN}` }
const MAIN = `logging: { level: warn, access: false }\nadmin: { token: ${TOKEN} }\n`
const TOKEN_ID = createHash('sha256').update(TOKEN).digest('hex').slice(0, 8)

function put (name: string, body: unknown, headers: Record<string, string> = AUTH) {
  return {
    method: 'PUT' as const,
    url: `/admin/services/${name}`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  }
}

test('PUT and DELETE need the admin token: 401 without or wrong, 403 when none is configured', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN)
  const body = { prefix: '/api/new', upstreams: [up.origin], auth: 'none' }
  const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }]
  for (const headers of attempts) {
    const res = await gw.gateway.admin.inject(put('new', body, headers))
    assert.equal(res.statusCode, 401)
    assert.equal(res.json().code, 'GW_UNAUTHORIZED')
    const del = await gw.gateway.admin.inject({ method: 'DELETE', url: '/admin/services/new', headers })
    assert.equal(del.statusCode, 401)
  }
  assert.equal((await gw.inject('/api/new/1')).statusCode, 404)
  assert.deepEqual(await readdir(gw.servicesDir), [])

  const off = await gatewayFromFiles(t, 'logging: { level: warn, access: false }\n')
  const refused = await off.gateway.admin.inject(put('new', body))
  assert.equal(refused.statusCode, 403)
  assert.equal(refused.json().code, 'GW_FORBIDDEN')
  assert.equal((await off.gateway.admin.inject({ method: 'DELETE', url: '/admin/services/new', headers: AUTH })).statusCode, 403)
  assert.equal((await off.inject('/api/new/1')).statusCode, 404)
})

test('PUT creates (201) then replaces (200) a service, writes servicesDir/<name>.yaml atomically, routes it at once', async (t) => {
  const a = await createUpstream(t)
  const b = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN)

  const created = await gw.gateway.admin.inject(put('orders', { prefix: '/api/orders', upstreams: [a.origin], auth: 'none', retries: 0 }))
  assert.equal(created.statusCode, 201)
  assert.equal(created.headers.location, '/admin/services/orders')
  const described = created.json()
  assert.equal(described.name, 'orders')
  assert.equal(described.prefix, '/api/orders')
  assert.equal(described.source, 'servicesDir')
  assert.deepEqual(described.upstreams, [{ origin: a.origin, up: true, circuit: 'closed' }])
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 200)
  assert.equal(a.requests.length, 1)

  // The file is what a team would commit: the body as sent, name first, durations unparsed.
  assert.deepEqual(await readdir(gw.servicesDir), ['orders.yaml'])
  const written = await readFile(join(gw.servicesDir, 'orders.yaml'), 'utf8')
  assert.match(written, /^# Written by the Gatehouse admin API/)
  assert.deepEqual(parse(written), { name: 'orders', prefix: '/api/orders', upstreams: [a.origin], auth: 'none', retries: 0 })

  const replaced = await gw.gateway.admin.inject(put('orders', {
    name: 'orders', prefix: '/api/orders', upstreams: [b.origin], auth: 'none', circuitBreaker: { resetTimeout: '5s' },
  }))
  assert.equal(replaced.statusCode, 200)
  assert.equal(replaced.json().policy.circuitBreaker.resetTimeoutMs, 5000)
  assert.equal((await gw.inject('/api/orders/2')).statusCode, 200)
  assert.equal(b.requests.length, 1)
  assert.equal(a.requests.length, 1)
  assert.match(await readFile(join(gw.servicesDir, 'orders.yaml'), 'utf8'), /resetTimeout: 5s/)

  const listed = (await gw.gateway.admin.inject({ url: '/admin/services', headers: AUTH })).json()
  assert.deepEqual(listed.services.map((s: { name: string }) => s.name), ['orders'])
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'success' }), 2)
})

test('PUT accepts a YAML body (application/yaml and text/yaml)', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN)
  for (const [name, type] of [['one', 'application/yaml'], ['two', 'text/yaml; charset=utf-8']]) {
    const res = await gw.gateway.admin.inject({
      method: 'PUT',
      url: `/admin/services/${name}`,
      headers: { ...AUTH, 'content-type': type },
      payload: `# a team's file\nprefix: /api/${name}\nupstreams:\n  - ${up.origin}\nauth: none\nrateLimit: { max: 5, window: 10s }\n`,
    })
    assert.equal(res.statusCode, 201, res.body)
    assert.deepEqual(res.json().policy.rateLimit, { max: 5, windowMs: 10000, by: 'consumer' })
    const routed = await gw.inject(`/api/${name}/x`)
    assert.equal(routed.statusCode, 200)
    assert.equal(routed.headers['x-ratelimit-limit'], '5')
  }
  assert.deepEqual((await readdir(gw.servicesDir)).sort(), ['one.yaml', 'two.yaml'])
})

test('an invalid body is 400 GW_INVALID_CONFIG listing every "<key path>: <message>"; nothing changes', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN)
  const res = await gw.gateway.admin.inject(put('orders', {
    prefix: '/api/orders',
    upstreams: ['localhost:3002'],
    auth: 'none',
    rateLimt: { max: 1 },
    circuitBreaker: { timeout: 'soon' },
  }))
  assert.equal(res.statusCode, 400)
  assert.match(res.headers['content-type'] as string, /application\/problem\+json/)
  const problem = res.json()
  assert.equal(problem.code, 'GW_INVALID_CONFIG')
  assert.ok(problem.errors.includes('upstreams[0]: must be an http(s) URL'), problem.errors)
  assert.ok(problem.errors.some((e: string) => e.startsWith('rateLimt: unknown key')), problem.errors)
  assert.ok(problem.errors.some((e: string) => e.startsWith('circuitBreaker.timeout: ')), problem.errors)

  const cases: Array<[string, unknown, RegExp]> = [
    ['orders', { name: 'billing', prefix: '/api/orders', upstreams: [up.origin], auth: 'none' }, /^name: must be "orders"/],
    ['Bad_Name', { prefix: '/api/bad', upstreams: [up.origin], auth: 'none' }, /^name: must match/],
    ['orders', [1, 2], /must be a mapping/],
    ['orders', '{"prefix": ', /not valid JSON/],
    // No auth.jwt in this config: a service needing tokens could never be called.
    ['orders', { prefix: '/api/orders', upstreams: [up.origin] }, /^auth: "required" needs auth.jwt/],
    // ${VAR} would be expanded from the gateway's environment when the file is read back.
    ['orders', { prefix: '/api/orders${HOME}', upstreams: [up.origin], auth: 'none' }, /^prefix: environment references/],
  ]
  for (const [name, body, expected] of cases) {
    const r = await gw.gateway.admin.inject(put(name, body))
    assert.equal(r.statusCode, 400, `${name} ${JSON.stringify(body)}: ${r.body}`)
    assert.equal(r.json().code, 'GW_INVALID_CONFIG')
    assert.ok(r.json().errors.some((e: string) => expected.test(e)), `${expected} in ${r.body}`)
  }
  const yaml = await gw.gateway.admin.inject({ method: 'PUT', url: '/admin/services/orders', headers: { ...AUTH, 'content-type': 'application/yaml' }, payload: 'prefix: [unclosed\n' })
  assert.equal(yaml.statusCode, 400)
  assert.match(yaml.json().errors[0], /YAML syntax error at line/)
  const text = await gw.gateway.admin.inject({ method: 'PUT', url: '/admin/services/orders', headers: { ...AUTH, 'content-type': 'text/plain' }, payload: 'hello' })
  assert.equal(text.statusCode, 400)
  assert.deepEqual(text.json().errors, ['content-type: must be application/json or application/yaml'])

  assert.deepEqual(await readdir(gw.servicesDir), [])
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 404)
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'failure' }), 0)
})

test('a body over the admin body limit is 413 and never parsed', async (t) => {
  const gw = await gatewayFromFiles(t, MAIN)
  const res = await gw.gateway.admin.inject(put('big', { prefix: '/api/big', upstreams: ['http://127.0.0.1:1'], auth: 'none', pad: 'x'.repeat(70 * 1024) }))
  assert.equal(res.statusCode, 413)
  assert.equal(res.json().code, 'GW_PAYLOAD_TOO_LARGE')
})

test('409 GW_CONFLICT: a prefix or file clash, and any change to a service of the main config file', async (t) => {
  const up = await createUpstream(t)
  const main = `${MAIN}services:\n  - { name: users, prefix: /api/users, upstreams: [${up.origin}], auth: none }\n`
  const gw = await gatewayFromFiles(t, main, { 'misnamed.yaml': serviceYaml('billing', '/api/billing', up.origin) })

  const samePrefix = await gw.gateway.admin.inject(put('people', { prefix: '/api/users', upstreams: [up.origin], auth: 'none' }))
  assert.equal(samePrefix.statusCode, 409)
  assert.equal(samePrefix.json().code, 'GW_CONFLICT')
  assert.match(samePrefix.json().detail, /already used by service "users"/)

  const fromMain = await gw.gateway.admin.inject(put('users', { prefix: '/api/users', upstreams: [up.origin], auth: 'none' }))
  assert.equal(fromMain.statusCode, 409)
  assert.match(fromMain.json().detail, /main config file/)
  const deleteMain = await gw.gateway.admin.inject({ method: 'DELETE', url: '/admin/services/users', headers: AUTH })
  assert.equal(deleteMain.statusCode, 409)
  assert.equal(deleteMain.json().code, 'GW_CONFLICT')
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)

  // misnamed.yaml holds "billing": a new service "misnamed" must not overwrite it...
  const clash = await gw.gateway.admin.inject(put('misnamed', { prefix: '/api/misnamed', upstreams: [up.origin], auth: 'none' }))
  assert.equal(clash.statusCode, 409)
  assert.match(clash.json().detail, /misnamed\.yaml already defines service "billing"/)
  // ...and replacing "billing" rewrites the file it lives in.
  const billing = await gw.gateway.admin.inject(put('billing', { prefix: '/api/invoices', upstreams: [up.origin], auth: 'none' }))
  assert.equal(billing.statusCode, 200)
  assert.deepEqual(await readdir(gw.servicesDir), ['misnamed.yaml'])
  assert.match(await readFile(join(gw.servicesDir, 'misnamed.yaml'), 'utf8'), /prefix: \/api\/invoices/)
  assert.equal((await gw.inject('/api/invoices/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/billing/1')).statusCode, 404)
})

test('DELETE removes the service and its file (204); an unknown name is 404', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, {
    'orders.yaml': serviceYaml('orders', '/api/orders', up.origin),
    'misnamed.yaml': serviceYaml('billing', '/api/billing', up.origin),
  })
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 200)
  const res = await gw.gateway.admin.inject({ method: 'DELETE', url: '/admin/services/orders', headers: AUTH })
  assert.equal(res.statusCode, 204)
  assert.equal(res.body, '')
  const gone = await gw.inject('/api/orders/1')
  assert.equal(gone.statusCode, 404)
  assert.equal(gone.json().code, 'GW_NOT_FOUND')
  assert.equal((await gw.gateway.admin.inject({ method: 'DELETE', url: '/admin/services/billing', headers: AUTH })).statusCode, 204)
  assert.deepEqual(await readdir(gw.servicesDir), [])

  const unknown = await gw.gateway.admin.inject({ method: 'DELETE', url: '/admin/services/orders', headers: AUTH })
  assert.equal(unknown.statusCode, 404)
  assert.equal(unknown.json().code, 'GW_NOT_FOUND')
  assert.equal((await gw.gateway.admin.inject({ url: '/admin/services/orders', headers: AUTH })).statusCode, 404)
})

test('without a servicesDir, PUT keeps the service in memory (source "admin") and DELETE drops it', async (t) => {
  const up = await createUpstream(t)
  const { gateway, inject } = await createGateway(t, baseConfig([], { admin: { token: TOKEN } }))
  const res = await gateway.admin.inject(put('memo', { prefix: '/api/memo', upstreams: [up.origin], auth: 'none' }))
  assert.equal(res.statusCode, 201)
  assert.equal(res.json().source, 'admin')
  assert.equal((await inject('/api/memo/1')).statusCode, 200)
  assert.equal((await gateway.admin.inject(put('memo', { prefix: '/api/memo2', upstreams: [up.origin], auth: 'none' }))).statusCode, 200)
  assert.equal((await inject('/api/memo2/1')).statusCode, 200)
  assert.equal((await gateway.admin.inject({ method: 'DELETE', url: '/admin/services/memo', headers: AUTH })).statusCode, 204)
  assert.equal((await inject('/api/memo2/1')).statusCode, 404)
})

test('every change attempt is an "admin audit" line: client IP, token id (never the token), method, service, status', async (t) => {
  const up = await createUpstream(t)
  // Audit lines are written even when the log level would hide info lines.
  const gw = await gatewayFromFiles(t, MAIN.replace('level: warn', 'level: error'))
  await gw.gateway.admin.inject({ ...put('audited', { prefix: '/api/audited', upstreams: [up.origin], auth: 'none' }), remoteAddress: '10.1.2.3' })
  await gw.gateway.admin.inject(put('audited', { prefix: '/api/audited' }, { authorization: 'Bearer nope' }))
  await gw.gateway.admin.inject({ method: 'DELETE', url: '/admin/services/audited', headers: AUTH })
  await gw.gateway.admin.inject({ url: '/admin/services', headers: AUTH })

  const audit = gw.logs.filter((l) => l.msg === 'admin audit')
  assert.deepEqual(audit.map((l) => [l.method, l.service, l.status, l.tokenId]), [
    ['PUT', 'audited', 201, TOKEN_ID],
    ['PUT', 'audited', 401, null],
    ['DELETE', 'audited', 204, TOKEN_ID],
  ])
  assert.equal(audit[0]!.clientIp, '10.1.2.3')
  const all = JSON.stringify(gw.logs)
  assert.ok(!all.includes(TOKEN), 'the admin token never reaches the log')
  assert.ok(!all.includes('Bearer nope'))
})

test("the watcher sees the API's own write as unchanged: applied once, counted once", async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, MAIN, {}, { watch: true })
  const generations: unknown[] = []
  const watched = nextReload(gw.reloader, (e) => e.trigger === 'watch', 3000)
  const res = await gw.gateway.admin.inject(put('orders', { prefix: '/api/orders', upstreams: [up.origin], auth: 'none' }))
  assert.equal(res.statusCode, 201)
  generations.push(gw.gateway.current())
  assert.equal((await watched).result, 'unchanged')
  assert.equal(gw.gateway.current(), generations[0])
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'success' }), 1)
  assert.ok((await stat(join(gw.servicesDir, 'orders.yaml'))).isFile())
})
