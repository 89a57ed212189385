import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { request } from 'undici'
import { createUpstream } from '../helpers/upstream.ts'
import { spawnNode } from '../helpers/process.ts'
import { gatewayFromFiles, serviceYaml } from './config-files.ts'

const MAIN = 'logging: { level: info, access: false }\n'

test("an unchanged service's open breaker stays open across a reload of another service", async (t) => {
  const failing = await createUpstream(t, (_req, res) => { res.writeHead(500); res.end('boom') })
  const other = await createUpstream(t)
  const gw = await gatewayFromFiles(t, `${MAIN}admin: { token: admin-secret }\n`, {
    'flaky.yaml': serviceYaml('flaky', '/api/flaky', failing.origin,
      'retries: 0\ncircuitBreaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: 1m }\n'),
  })
  for (let i = 0; i < 2; i++) assert.equal((await gw.inject('/api/flaky/x')).statusCode, 500)
  const open = await gw.inject('/api/flaky/x')
  assert.equal(open.statusCode, 503)
  assert.equal(open.json().code, 'GW_CIRCUIT_OPEN')
  const calls = failing.requests.length

  await gw.writeService('other.yaml', serviceYaml('other', '/api/other', other.origin))
  const event = await gw.reloader.reloadServicesDir()
  assert.equal(event.result, 'success')
  assert.deepEqual(event.added, ['other'])

  const after = await gw.inject('/api/flaky/x')
  assert.equal(after.statusCode, 503)
  assert.equal(after.json().code, 'GW_CIRCUIT_OPEN')
  assert.equal(failing.requests.length, calls, 'no call reached the upstream behind the open breaker')
  assert.equal((await gw.inject('/api/other/1')).statusCode, 200)
  const listing = await gw.gateway.admin.inject({ url: '/admin/services/flaky', headers: { authorization: 'Bearer admin-secret' } })
  assert.equal(listing.json().upstreams[0].circuit, 'open')
})

test('a removed service answers 404 and its health checks stop', async (t) => {
  const users = await createUpstream(t)
  const checked = await createUpstream(t)
  const health = () => checked.requests.filter((r) => r.url === '/health').length
  const gw = await gatewayFromFiles(t, MAIN, {
    'users.yaml': serviceYaml('users', '/api/users', users.origin),
    'checked.yaml': serviceYaml('checked', '/api/checked', checked.origin, 'healthCheck: { path: /health, interval: 50ms }\n'),
  })
  // Health checks run on their timer (time-based state: a bounded wait is the only way).
  for (let i = 0; i < 100 && health() < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(health() >= 2, 'health checks are running')

  await gw.removeService('checked.yaml')
  const event = await gw.reloader.reloadServicesDir()
  assert.deepEqual(event.removed, ['checked'])
  assert.equal((await gw.inject('/api/checked/1')).statusCode, 404)
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)

  const seen = health()
  // Six intervals: a live checker would have made several more calls.
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.ok(health() <= seen + 1, `no health check after removal (saw ${health() - seen} more)`)
  assert.equal([...gw.gateway.ctx.upstreams.keys()].some((k) => k.startsWith('checked\u0000')), false)
})

test('an in-flight request finishes across a reload that removes its service; the old generation closes after it', async (t) => {
  let hold!: ServerResponse
  const slow = await createUpstream(t, (_req, res) => { hold = res })
  const gw = await gatewayFromFiles(t, MAIN, { 'slow.yaml': serviceYaml('slow', '/api/slow', slow.origin) }, { listen: true })
  const old = gw.gateway.current()

  const arrived = slow.nextRequest()
  const inflight = request(`${gw.url}/api/slow/1`)
  await arrived
  await gw.removeService('slow.yaml')
  assert.equal((await gw.reloader.reloadServicesDir()).result, 'success')
  assert.notEqual(gw.gateway.current(), old)

  // New requests see the new table; the old generation is still open for the running one.
  assert.equal((await request(`${gw.url}/api/slow/2`).then((r) => { void r.body.dump(); return r.statusCode })), 404)
  assert.equal((await old.app.inject('/nothing')).statusCode, 404)

  hold.end('finished')
  const res = await inflight
  assert.equal(res.statusCode, 200)
  assert.equal(await res.body.text(), 'finished')
  // Closed once its last response is done: a closed Fastify instance refuses inject.
  let closed = false
  for (let i = 0; i < 100 && !closed; i++) {
    closed = await old.app.inject('/nothing').then(() => false, () => true)
    if (!closed) await new Promise((resolve) => setImmediate(resolve))
  }
  assert.ok(closed, 'the replaced generation was closed')
})

test('after a watched removal and shutdown the process exits by itself', async (t) => {
  let checks = 0
  const up = await createUpstream(t, (req, res) => {
    if (req.url === '/health') checks++
    res.end(req.url === '/seen-health' ? String(checks) : 'ok')
  })
  const script = new URL('./fixtures/remove-and-exit.ts', import.meta.url).pathname
  const child = spawnNode(t, [script, up.origin])
  let timer: NodeJS.Timeout | undefined
  const code = await Promise.race([
    child.exited,
    new Promise<string>((resolve) => { timer = setTimeout(resolve, 10000, 'still running after 10 s') }),
  ])
  clearTimeout(timer)
  assert.equal(code, 0, `child: ${child.stdout()}\n${child.stderr()}`)
  assert.match(child.stdout(), /removed: checked/)
  assert.ok(checks > 0, 'the removed service was health-checked before')
})
