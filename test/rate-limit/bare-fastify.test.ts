import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import Fastify from 'fastify'
import errorsPlugin from '../../plugins/errors/index.ts'
import requestContextPlugin from '../../plugins/request-context/index.ts'
import rateLimitPlugin from '../../plugins/rate-limit/index.ts'
import { MemoryStore, type GatewayRateLimitStore } from '../../plugins/rate-limit/store.ts'
import type { RateLimitConfig, RateLimitServiceFields } from '../../plugins/rate-limit/schema.ts'
import { createGatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'
import { createServiceRuntime, createUpstreamState } from '../../lib/service-runtime.ts'
import type { ServiceCore } from '../../lib/config-types.ts'

// The plugin on its own: a bare Fastify instance with the two plugins it reads from
// (request context for request.gw, errors for problem+json) and a route standing in for
// a service's proxy route. No gateway, no upstream.

const RATE_LIMIT: RateLimitConfig = {
  store: 'memory',
  redis: { url: 'redis://127.0.0.1:1', keyPrefix: 'gatehouse:rl:', timeoutMs: 50 },
  onStoreError: 'local',
  default: null,
}

function usersService (rateLimit: RateLimitServiceFields['rateLimit'], routes: RateLimitServiceFields['routes'] = []) {
  const config: ServiceCore & RateLimitServiceFields = {
    name: 'users',
    prefix: '/api/users',
    upstreams: ['http://127.0.0.1:1'],
    rewritePrefix: '',
    retries: 0,
    websocket: false,
    upstreamTls: null,
    source: 'config',
    rateLimit,
    routes,
  }
  return createServiceRuntime(config, { timeoutMs: 1000, leastConnections: false }, (_svc, origin) => createUpstreamState(origin))
}

async function bareApp (t: TestContext, store: GatewayRateLimitStore, svc: ReturnType<typeof usersService>) {
  const metrics = createGatewayMetrics()
  const app = Fastify()
  t.after(() => app.close())
  await app.register(errorsPlugin)
  await app.register(requestContextPlugin)
  await app.register(rateLimitPlugin, { config: RATE_LIMIT, store, metrics, services: [svc] })
  app.all('/api/users/*', { config: { service: svc } }, async () => ({ ok: true }))
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, base, metrics }
}

test('on a bare Fastify instance, @fastify/rate-limit answers the N+1th request 429 problem+json with the SPEC headers; the first N carry them too', async (t) => {
  const svc = usersService({ max: 2, windowMs: 60_000, by: 'ip' })
  const { app, base, metrics } = await bareApp(t, new MemoryStore(), svc)
  assert.ok(app.hasPlugin('@fastify/rate-limit'), 'the counting is the package\'s own plugin, registered as designed')

  for (let i = 1; i <= 2; i++) {
    const res = await fetch(`${base}/api/users/1`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-ratelimit-limit'), '2')
    assert.equal(res.headers.get('x-ratelimit-remaining'), String(2 - i))
    assert.equal(res.headers.get('x-ratelimit-reset'), '60')
    assert.equal(res.headers.get('ratelimit-policy'), '"users";q=2;w=60')
    assert.equal(res.headers.get('ratelimit'), `"users";r=${2 - i};t=60`)
    assert.equal(res.headers.get('retry-after'), null)
  }
  const res = await fetch(`${base}/api/users/1`)
  assert.equal(res.status, 429)
  assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/)
  const body = await res.json() as { code: string, status: number, detail: string }
  assert.equal(body.code, 'GW_RATE_LIMITED')
  assert.equal(body.status, 429)
  const reset = Number(res.headers.get('x-ratelimit-reset'))
  assert.ok(reset >= 59 && reset <= 60, `reset ${reset}`)
  assert.equal(body.detail, `Rate limit exceeded, retry in ${reset} s`)
  assert.equal(res.headers.get('retry-after'), String(reset))
  assert.equal(res.headers.get('x-ratelimit-limit'), '2')
  assert.equal(res.headers.get('x-ratelimit-remaining'), '0')
  assert.equal(res.headers.get('ratelimit-policy'), '"users";q=2;w=60')
  assert.equal(res.headers.get('ratelimit'), `"users";r=0;t=${reset}`)
  assert.match(await metrics.registry.getSingleMetricAsString('gatehouse_rate_limited_total'), /\{service="users"\} 1$/m)
})

test('a route\'s own limit and the service\'s are counted apart inside one Fastify route', async (t) => {
  const svc = usersService({ max: 1, windowMs: 60_000, by: 'ip' },
    [{ methods: ['POST'], path: '/api/users/login', rateLimit: { max: 2, windowMs: 10_000, by: 'ip' } }])
  const { base } = await bareApp(t, new MemoryStore(), svc)
  const login = await fetch(`${base}/api/users/login`, { method: 'POST' })
  assert.equal(login.headers.get('ratelimit-policy'), '"users";q=2;w=10')
  assert.equal(login.headers.get('x-ratelimit-remaining'), '1')
  assert.equal((await fetch(`${base}/api/users/7`)).status, 200)
  assert.equal((await fetch(`${base}/api/users/7`)).status, 429)
  assert.equal((await fetch(`${base}/api/users/login`, { method: 'POST' })).status, 200, 'the route budget was not spent by the service\'s requests')
})

test('counting lives in the store the plugin is given, not in the Fastify instance: a new instance (a reload) continues the count', async (t) => {
  const store = new MemoryStore()
  const svc = usersService({ max: 2, windowMs: 60_000, by: 'ip' })
  const first = await bareApp(t, store, svc)
  assert.equal((await fetch(`${first.base}/api/users/1`)).status, 200)
  await first.app.close()
  const second = await bareApp(t, store, svc)
  const res = await fetch(`${second.base}/api/users/1`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('x-ratelimit-remaining'), '0')
  assert.equal((await fetch(`${second.base}/api/users/1`)).status, 429)
})

test('a service without a limit gets no hook: no header, never counted', async (t) => {
  const store = new MemoryStore()
  const { base } = await bareApp(t, store, usersService(false))
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${base}/api/users/1`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-ratelimit-limit'), null)
    assert.equal(res.headers.get('ratelimit'), null)
  }
  assert.equal(store.size, 0)
})

function incr (store: MemoryStore, key: string, windowMs: number) {
  let out: { current: number, ttl: number } | undefined
  store.incr(key, (err, res) => {
    assert.equal(err, null)
    out = { current: res!.current, ttl: res!.ttl }
  }, windowMs, 10)
  return out!
}

test('memory store: a fixed window opens on the first hit and restarts once it has passed', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  const store = new MemoryStore()
  assert.deepEqual(incr(store, 'k', 1000), { current: 1, ttl: 1000 })
  t.mock.timers.tick(400)
  assert.deepEqual(incr(store, 'k', 1000), { current: 2, ttl: 600 })
  t.mock.timers.tick(599)
  assert.deepEqual(incr(store, 'k', 1000), { current: 3, ttl: 1 })
  t.mock.timers.tick(1)
  assert.deepEqual(incr(store, 'k', 1000), { current: 1, ttl: 1000 })
})

test('memory store: rotating keys cannot grow it past its bound, and a key in use is kept', () => {
  const store = new MemoryStore(10)
  incr(store, 'hot', 60_000)
  for (let i = 0; i < 1000; i++) {
    incr(store, `rotating-${i}`, 60_000)
    if (i % 3 === 0) incr(store, 'hot', 60_000)
    assert.ok(store.size <= 10, `size ${store.size}`)
  }
  assert.equal(incr(store, 'hot', 60_000).current, 1 + Math.ceil(1000 / 3) + 1)
  assert.equal(incr(store, 'rotating-0', 60_000).current, 1, 'a key unused for long was forgotten: its window restarts')
})
