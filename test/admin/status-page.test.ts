// GET /status and /status.json on the admin port, through real sockets: who may read
// them, what they show, and that nothing from config or state can inject markup.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createUpstream, closedPort } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { gatewayFromFiles, nextReload, serviceYaml } from '../reload/config-files.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectVia, createEchoServer, createEgressGateway, proxyBearer } from '../helpers/egress.ts'

const TOKEN = 'status-token-for-tests'
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

async function get (base: string, path: string, authorization?: string) {
  const res = await fetch(base + path, { headers: authorization === undefined ? {} : { authorization } })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

test('/status and /status.json take the admin token as Bearer or as the Basic password (any user); 401 asks for Basic', async (t) => {
  const gw = await createGateway(t, baseConfig([], { admin: { token: TOKEN } }), { listen: true })
  const base = gw.adminUrl!
  for (const path of ['/status', '/status.json']) {
    for (const authorization of [undefined, 'Bearer wrong', basic('ops', 'wrong'), basic(TOKEN, ''), `Basic ${TOKEN}`, TOKEN, 'Basic !!!']) {
      const res = await get(base, path, authorization)
      assert.equal(res.status, 401, `${path} with ${authorization}`)
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="gatehouse"')
      assert.match(res.headers.get('content-type')!, /^application\/problem\+json/)
      assert.equal(JSON.parse(res.text).code, 'GW_UNAUTHORIZED')
      assert.doesNotMatch(res.text, /gatehouse_|<html/)
    }
    for (const authorization of [`Bearer ${TOKEN}`, basic('ops', TOKEN), basic('', TOKEN), basic('anyone at all', TOKEN)]) {
      assert.equal((await get(base, path, authorization)).status, 200, `${path} with ${authorization}`)
    }
  }
  // The service API keeps its Bearer-only rule.
  assert.equal((await get(base, '/admin/services', basic('ops', TOKEN))).status, 401)
})

test('/status is 403 for everyone when no admin token is configured', async (t) => {
  const gw = await createGateway(t, baseConfig([]), { listen: true })
  for (const path of ['/status', '/status.json']) {
    const res = await get(gw.adminUrl!, path, basic('ops', ''))
    assert.equal(res.status, 403)
    assert.equal(JSON.parse(res.text).code, 'GW_FORBIDDEN')
  }
})

test('/status.json: version, uptime, services with last-minute requests and 5xx share, upstreams, store, websockets, egress', async (t) => {
  let fail = false
  const up = await createUpstream(t, (_req, res) => { res.writeHead(fail ? 500 : 200); res.end('x') })
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], rateLimit: { max: 1000, window: '1m' }, circuitBreaker: false },
    { name: 'idle', prefix: '/api/idle', upstreams: [up.origin], websocket: true, healthCheck: { path: '/health', interval: '1m' } },
  ], { admin: { token: TOKEN } }), { listen: true })
  for (let i = 0; i < 6; i++) {
    fail = i >= 4
    assert.equal((await fetch(`${gw.url}/api/users/${i}`)).status, fail ? 500 : 200)
  }
  const res = await get(gw.adminUrl!, '/status.json', `Bearer ${TOKEN}`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('cache-control'), 'no-store')
  const s = JSON.parse(res.text)
  assert.equal(s.version, VERSION)
  assert.ok(s.uptimeSeconds >= 0 && s.uptimeSeconds < 60)
  assert.ok(Date.parse(s.startedAt) <= Date.parse(s.now))
  assert.equal(s.lastReload, null)
  const users = s.services.find((x: { name: string }) => x.name === 'users')
  assert.deepEqual({ prefix: users.prefix, source: users.source, lastMinute: users.lastMinute },
    { prefix: '/api/users', source: 'config', lastMinute: { requests: 6, errors5xx: 2, share5xx: 2 / 6 } })
  assert.deepEqual(users.policy.rateLimit, { max: 1000, windowMs: 60_000, by: 'consumer' })
  const idle = s.services.find((x: { name: string }) => x.name === 'idle')
  assert.deepEqual(idle.lastMinute, { requests: 0, errors5xx: 0, share5xx: 0 })
  assert.equal(idle.policy.websocket, true)
  assert.deepEqual(s.upstreams, [
    { service: 'users', origin: up.origin, up: true, circuit: 'off', secondsToHalfOpen: null, inflight: 0 },
    { service: 'idle', origin: up.origin, up: true, circuit: 'closed', secondsToHalfOpen: null, inflight: 0 },
  ])
  assert.deepEqual(s.rateLimitStore, { kind: 'memory', degraded: false })
  assert.deepEqual(s.websockets, { open: 0 })
  assert.equal(s.egress, null)
})

test('/status is one self-contained HTML page: refreshes itself, no script, no external asset, a CSP that allows neither', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }], { admin: { token: TOKEN } }), { listen: true })
  await fetch(`${gw.url}/api/users/1`)
  const res = await get(gw.adminUrl!, '/status', basic('ops', TOKEN))
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type')!, /^text\/html; charset=utf-8/)
  const csp = res.headers.get('content-security-policy')!
  assert.match(csp, /default-src 'none'/)
  assert.doesNotMatch(csp, /script-src/)
  assert.equal(res.headers.get('x-frame-options'), 'DENY')
  assert.match(res.text, /<meta http-equiv="refresh" content="\d+">/)
  assert.doesNotMatch(res.text, /<script|<link|<img|<iframe|src=|url\(|@import|https?:\/\/(?!127\.0\.0\.1)/i)
  assert.match(res.text, new RegExp(`version ${VERSION.replaceAll('.', '\\.')}`))
  assert.match(res.text, /<tr data-service="users">.*<code>\/api\/users<\/code>.*config.*<td class="num">1<\/td>/)
  assert.match(res.text, /egress: not configured/)
  assert.match(res.text, /<h2>Rate-limit store<\/h2><p>no rate limits/)
  assert.match(res.text, /none since start/)
})

test('a servicesDir file name with markup shows as text on the status page (last reload error), never as HTML', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, `logging: { level: fatal, access: false }\nadmin: { token: ${TOKEN} }\n`,
    { 'users.yaml': serviceYaml('users', '/api/users', up.origin) }, { listen: true })
  const evil = '<img src=x onerror=alert(1)>"\'&.yaml'
  await gw.writeService(evil, 'name: evil\nprefix: /api/evil\nupstreams: [not-a-url]\nauth: none\n')
  const rejected = nextReload(gw.reloader, (e) => e.result === 'failure')
  void gw.reloader.reload('sighup')
  await rejected
  const json = JSON.parse((await get(gw.adminUrl!, '/status.json', `Bearer ${TOKEN}`)).text)
  assert.equal(json.lastReload.result, 'failure')
  assert.equal(json.lastReload.trigger, 'sighup')
  assert.ok(json.lastReload.error.includes(evil), json.lastReload.error)
  const html = (await get(gw.adminUrl!, '/status', basic('x', TOKEN))).text
  assert.ok(!html.includes('<img'), 'markup from a file name reached the page')
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;.yaml'), html)

  // Fixing it: the next reload succeeds and the page says so.
  await gw.removeService(evil)
  const applied = nextReload(gw.reloader, (e) => e.result !== 'failure')
  void gw.reloader.reload('sighup')
  await applied
  const fixed = JSON.parse((await get(gw.adminUrl!, '/status.json', `Bearer ${TOKEN}`)).text)
  assert.deepEqual({ result: fixed.lastReload.result, error: fixed.lastReload.error }, { result: 'success', error: null })
})

test('an open breaker shows with its seconds to half-open; a Redis store that cannot be reached shows degraded', async (t) => {
  const dead = await closedPort()
  const redisPort = await closedPort()
  const gw = await createGateway(t, baseConfig([{
    name: 'orders',
    prefix: '/api/orders',
    upstreams: [`http://127.0.0.1:${dead}`],
    retries: 0,
    circuitBreaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: '30s' },
  }], {
    admin: { token: TOKEN },
    rateLimit: { store: 'redis', redis: { url: `redis://127.0.0.1:${redisPort}`, timeout: '50ms' }, onStoreError: 'allow' },
  }), { listen: true })
  const status = async () => JSON.parse((await get(gw.adminUrl!, '/status.json', `Bearer ${TOKEN}`)).text)
  for (let i = 0; i < 3; i++) await fetch(`${gw.url}/api/orders/${i}`)
  const s = await status()
  const [orders] = s.upstreams
  assert.equal(orders.circuit, 'open')
  assert.ok(orders.secondsToHalfOpen >= 20 && orders.secondsToHalfOpen <= 30, String(orders.secondsToHalfOpen))
  assert.equal(s.services[0].lastMinute.errors5xx, s.services[0].lastMinute.requests)
  await waitFor('the store to be degraded', async () => (await status()).rateLimitStore.degraded === true)
  assert.equal((await status()).rateLimitStore.kind, 'redis')
  assert.match((await get(gw.adminUrl!, '/status', `Bearer ${TOKEN}`)).text, /redis <span class="badge bad">degraded/)
})

test('egress on the status page: destinations with tunnels open and the tunnel count, back to none when they close', async (t) => {
  const echo = await createEchoServer(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [echo.port] }], allowNetworks: ['127.0.0.1/32'] },
    { extra: { admin: { token: TOKEN } } })
  const status = async () => JSON.parse((await get(gw.adminUrl!, '/status.json', `Bearer ${TOKEN}`)).text)
  assert.deepEqual((await status()).egress, { destinations: [], tunnels: 0 })
  const tunnel = await connectVia(t, gw.egressUrl, `127.0.0.1:${echo.port}`, { 'proxy-authorization': proxyBearer() })
  assert.equal(tunnel.status, 200)
  assert.deepEqual((await status()).egress, { destinations: [{ host: '127.0.0.1', tunnels: 1 }], tunnels: 1 })
  const html = (await get(gw.adminUrl!, '/status', `Bearer ${TOKEN}`)).text
  assert.match(html, /127\.0\.0\.1/)
  tunnel.socket.destroy()
  await waitFor('the tunnel to close', async () => (await status()).egress.tunnels === 0)
})
