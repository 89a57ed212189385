import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { scrape, samples, value } from '../helpers/metrics.ts'
import { JWT_SECRET, sign } from '../helpers/tokens.ts'

// SPEC.md "Metrics": names, types and label sets are the contract.
const SPEC_METRICS: Record<string, { type: string, labels: string[] }> = {
  gatehouse_http_requests_total: { type: 'counter', labels: ['code', 'method', 'service'] },
  gatehouse_http_request_duration_seconds: { type: 'histogram', labels: ['method', 'service'] },
  gatehouse_upstream_request_duration_seconds: { type: 'histogram', labels: ['service', 'upstream'] },
  gatehouse_upstream_errors_total: { type: 'counter', labels: ['kind', 'service', 'upstream'] },
  gatehouse_circuit_state: { type: 'gauge', labels: ['service', 'upstream'] },
  gatehouse_circuit_transitions_total: { type: 'counter', labels: ['service', 'to', 'upstream'] },
  gatehouse_upstream_up: { type: 'gauge', labels: ['service', 'upstream'] },
  gatehouse_rate_limited_total: { type: 'counter', labels: ['service'] },
  gatehouse_ratelimit_store_degraded: { type: 'gauge', labels: [] },
  gatehouse_auth_failures_total: { type: 'counter', labels: ['reason', 'service'] },
  gatehouse_config_reloads_total: { type: 'counter', labels: ['result'] },
}

// A few of Node's default metrics, which the dashboard reads.
const NODE_METRICS: Record<string, string> = {
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
}

function sortedLabelNames (labels: Record<string, string>): string[] {
  return Object.keys(labels).filter((k) => k !== 'le').sort()
}

test('after real traffic /metrics exports every SPEC metric with its type and exact label set', async (t) => {
  const ok = await createUpstream(t)
  const hanging = await createUpstream(t, () => { /* never answers */ })
  const failing = await createUpstream(t, (_req, res) => { res.writeHead(503); res.end('down for maintenance') })
  const resetting = await createUpstream(t, (req) => { req.socket.destroy() })
  const refused = `http://127.0.0.1:${await closedPort()}`
  const gw = await createGateway(t, baseConfig([
    { name: 'ok', prefix: '/api/ok', upstreams: [ok.origin] },
    { name: 'slow', prefix: '/api/slow', upstreams: [hanging.origin], retries: 0 },
    { name: 'failing', prefix: '/api/failing', upstreams: [failing.origin] },
    { name: 'resetting', prefix: '/api/resetting', upstreams: [resetting.origin], retries: 0 },
    {
      name: 'down',
      prefix: '/api/down',
      upstreams: [refused],
      retries: 0,
      circuitBreaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: '1m', timeout: '10s' }
    },
    { name: 'limited', prefix: '/api/limited', upstreams: [ok.origin], rateLimit: { max: 1, window: '1m' } },
    { name: 'private', prefix: '/api/private', upstreams: [ok.origin], auth: 'required' },
  ], {
    server: { timeouts: { upstream: '200ms' } },
    auth: { jwt: { secret: JWT_SECRET, algorithms: ['HS256'] } },
    rateLimit: { store: 'memory', default: { max: 1000, window: '1m', by: 'ip' } },
  }))

  const status = async (url: string, opts: { method?: string, headers?: Record<string, string> } = {}) =>
    (await gw.inject({ url, method: (opts.method ?? 'GET') as 'GET', headers: opts.headers })).statusCode

  assert.equal(await status('/api/ok/users/7?x=1'), 200)
  assert.equal(await status('/api/ok/users/7', { method: 'POST' }), 200)
  assert.equal(await status('/nowhere/at/all'), 404)
  assert.equal(await status('/api/ok/%00'), 400) // rejected by the path normaliser
  assert.equal(await status('/api/ok/%C0%AF'), 400) // rejected by Fastify's router (frameworkErrors)
  assert.equal(await status('/api/slow/x'), 504)
  assert.equal(await status('/api/failing/x'), 503)
  assert.equal(await status('/api/resetting/x', { method: 'DELETE' }), 502)
  const downStatuses: number[] = []
  for (let i = 0; i < 10 && !downStatuses.includes(503); i++) downStatuses.push(await status('/api/down/x'))
  assert.deepEqual(downStatuses.slice(0, 2), [502, 502])
  assert.equal(downStatuses.at(-1), 503, `breaker opened: ${downStatuses}`)
  assert.equal(await status('/api/limited/x'), 200)
  assert.equal(await status('/api/limited/x'), 429)
  assert.equal(await status('/api/private/x'), 401)
  const token = sign('alice')
  assert.equal(await status('/api/private/x', { headers: { authorization: `Bearer ${token}` } }), 200)

  const { families } = await scrape(gw)

  for (const [name, spec] of Object.entries(SPEC_METRICS)) {
    const f = families.get(name)
    assert.ok(f, `${name} is exported`)
    assert.equal(f.type, spec.type, `${name} TYPE`)
    assert.ok(f.help && f.help.length > 0, `${name} HELP`)
    // Reloads are counted by the reloader (not exercised here): declared, no samples yet.
    if (name !== 'gatehouse_config_reloads_total') assert.ok(f.samples.length > 0, `${name} has samples after this traffic`)
    for (const s of f.samples) {
      assert.deepEqual(sortedLabelNames(s.labels), spec.labels, `labels of ${s.name}${JSON.stringify(s.labels)}`)
      if (s.name.endsWith('_bucket')) assert.ok('le' in s.labels, `${s.name} has le`)
      for (const v of Object.values(s.labels)) assert.ok(!v.includes('/api/') && !v.includes('alice'), `bounded label value ${v}`)
      if ('upstream' in s.labels) assert.match(s.labels.upstream!, /^http:\/\/127\.0\.0\.1:\d+$/, 'upstream label is an origin')
    }
  }
  for (const [name, type] of Object.entries(NODE_METRICS)) {
    assert.equal(families.get(name)?.type, type, `Node default metric ${name}`)
  }

  const requests = (service: string, method: string, code: string) =>
    value(families, 'gatehouse_http_requests_total', { service, method, code })
  assert.equal(requests('ok', 'GET', '200'), 1)
  assert.equal(requests('ok', 'POST', '200'), 1)
  assert.equal(requests('unmatched', 'GET', '404'), 1)
  assert.equal(requests('unmatched', 'GET', '400'), 2, 'both kinds of rejected targets count as unmatched')
  assert.equal(requests('slow', 'GET', '504'), 1)
  assert.equal(requests('failing', 'GET', '503'), 1)
  assert.equal(requests('resetting', 'DELETE', '502'), 1)
  assert.equal(requests('down', 'GET', '502'), downStatuses.filter((s) => s === 502).length)
  assert.equal(requests('down', 'GET', '503'), 1)
  assert.equal(requests('limited', 'GET', '429'), 1)
  assert.equal(requests('private', 'GET', '401'), 1)
  assert.equal(requests('private', 'GET', '200'), 1)
  // The histogram saw each of them once.
  assert.equal(value(families, 'gatehouse_http_request_duration_seconds_count', { service: 'unmatched', method: 'GET' }), 3)
  assert.equal(value(families, 'gatehouse_http_request_duration_seconds_count', { service: 'slow', method: 'GET' }), 1)
  assert.ok(value(families, 'gatehouse_http_request_duration_seconds_sum', { service: 'slow', method: 'GET' }) >= 0.2,
    'the 504 took at least the 200 ms upstream timeout')

  const upstreamErrors = (service: string, kind: string) =>
    samples(families, 'gatehouse_upstream_errors_total', { service, kind }).reduce((n, s) => n + s.value, 0)
  assert.equal(upstreamErrors('slow', 'timeout'), 1)
  assert.equal(upstreamErrors('failing', 'status_5xx'), 1)
  assert.equal(upstreamErrors('resetting', 'reset'), 1)
  assert.equal(upstreamErrors('down', 'refused'), downStatuses.filter((s) => s === 502).length)
  assert.equal(upstreamErrors('ok', 'status_5xx'), 0)
  assert.equal(value(families, 'gatehouse_upstream_request_duration_seconds_count', { service: 'ok', upstream: ok.origin }), 2)
  assert.equal(value(families, 'gatehouse_upstream_request_duration_seconds_count', { service: 'slow', upstream: hanging.origin }), 1)

  assert.equal(value(families, 'gatehouse_circuit_state', { service: 'down', upstream: refused }), 2)
  assert.equal(value(families, 'gatehouse_circuit_state', { service: 'ok', upstream: ok.origin }), 0)
  assert.equal(value(families, 'gatehouse_circuit_transitions_total', { service: 'down', upstream: refused, to: 'open' }), 1)
  assert.equal(value(families, 'gatehouse_upstream_up', { service: 'ok', upstream: ok.origin }), 1)
  assert.equal(value(families, 'gatehouse_rate_limited_total', { service: 'limited' }), 1)
  assert.equal(value(families, 'gatehouse_auth_failures_total', { service: 'private', reason: 'missing' }), 1)
  assert.equal(value(families, 'gatehouse_ratelimit_store_degraded'), 0)
})

// Counted by code not exercised here (the reloader; the edge options' cache and
// WebSocket proxy, SPEC.md "Edge options"): their declaration is checked.
const DECLARED_ONLY: Record<string, { type: string, labels: string[] }> = {
  gatehouse_config_reloads_total: { type: 'counter', labels: ['result'] },
  gatehouse_cache_requests_total: { type: 'counter', labels: ['result', 'service'] },
  gatehouse_websocket_connections: { type: 'gauge', labels: ['service'] },
}

test('metrics counted elsewhere (reloads, cache, WebSocket) are declared with their type and labels', async (t) => {
  const gw = await createGateway(t, baseConfig([]))
  const { families } = await scrape(gw)
  for (const [name, spec] of Object.entries(DECLARED_ONLY)) {
    assert.equal(families.get(name)?.type, spec.type, name)
    const metric = gw.gateway.ctx.metrics.registry.getSingleMetric(name) as unknown as { labelNames: string[] }
    assert.deepEqual([...metric.labelNames].sort(), spec.labels, name)
  }
})

test('an unknown method is labelled OTHER, never the raw method', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'ok', prefix: '/api/ok', upstreams: [up.origin] }]))
  const res = await gw.inject({ method: 'PROPFIND' as 'GET', url: '/api/ok/x' })
  const { families } = await scrape(gw)
  const found = samples(families, 'gatehouse_http_requests_total')
  assert.deepEqual(found.map((s) => s.labels.method), ['OTHER'])
  assert.equal(found[0]!.labels.code, String(res.statusCode))
})

test('gateway latency and upstream latency are recorded apart: the gateway one includes the upstream one', async (t) => {
  // No upper bound on any duration (load can stretch them all): the upstream histogram
  // holds at least the time the upstream itself took, and the gateway one at least that.
  const DELAY_MS = 60
  let handlerMs = 0
  const up = await createUpstream(t, (_req, res) => {
    const start = performance.now()
    setTimeout(() => { handlerMs += performance.now() - start; res.end('late') }, DELAY_MS)
  })
  const gw = await createGateway(t, baseConfig([{ name: 'ok', prefix: '/api/ok', upstreams: [up.origin] }]))
  for (let i = 0; i < 3; i++) assert.equal((await gw.inject('/api/ok/x')).statusCode, 200)
  const { families } = await scrape(gw)
  const gatewaySum = value(families, 'gatehouse_http_request_duration_seconds_sum', { service: 'ok', method: 'GET' })
  const upstreamSum = value(families, 'gatehouse_upstream_request_duration_seconds_sum', { service: 'ok', upstream: up.origin })
  assert.equal(value(families, 'gatehouse_upstream_request_duration_seconds_count', { service: 'ok', upstream: up.origin }), 3)
  assert.ok(upstreamSum * 1000 >= handlerMs, `upstream histogram ${upstreamSum * 1000} ms >= the upstream's own ${handlerMs} ms`)
  assert.ok(gatewaySum >= upstreamSum, `gateway ${gatewaySum} >= upstream ${upstreamSum}`)
  // Each call took at least DELAY_MS, so no observation falls in a bucket below it.
  assert.equal(value(families, 'gatehouse_upstream_request_duration_seconds_bucket', { service: 'ok', le: '0.05' }), 0)
})

test('/metrics is on the admin port only and needs no admin token', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'ok', prefix: '/api/ok', upstreams: [up.origin] }],
    { admin: { token: 'admin-secret-token-0123456789' } }), { listen: true })
  const adminRes = await fetch(`${gw.adminUrl}/metrics`)
  assert.equal(adminRes.status, 200)
  assert.match(await adminRes.text(), /# TYPE gatehouse_http_requests_total counter/)
  const publicRes = await fetch(`${gw.url}/metrics`)
  assert.equal(publicRes.status, 404)
  await publicRes.arrayBuffer()
  const { families } = await scrape(gw)
  assert.equal(value(families, 'gatehouse_http_requests_total', { service: 'unmatched', code: '404' }), 1,
    'the public /metrics attempt is an unmatched request like any other')
})

test('two gateways in one process keep separate registries', async (t) => {
  const up = await createUpstream(t)
  const services = [{ name: 'ok', prefix: '/api/ok', upstreams: [up.origin] }]
  const a = await createGateway(t, baseConfig(services))
  const b = await createGateway(t, baseConfig(services))
  assert.notEqual(a.gateway.ctx.metrics.registry, b.gateway.ctx.metrics.registry)
  await a.inject('/api/ok/1')
  await a.inject('/api/ok/2')
  await b.inject('/nowhere')
  const { families: fa } = await scrape(a)
  const { families: fb } = await scrape(b)
  assert.equal(value(fa, 'gatehouse_http_requests_total', { service: 'ok', code: '200' }), 2)
  assert.equal(samples(fa, 'gatehouse_http_requests_total', { service: 'unmatched' }).length, 0)
  assert.equal(samples(fb, 'gatehouse_http_requests_total', { service: 'ok' }).length, 0)
  assert.equal(value(fb, 'gatehouse_http_requests_total', { service: 'unmatched', code: '404' }), 1)
  // Node's default metrics are registered on both without a "already registered" clash.
  assert.equal(fa.get('process_cpu_seconds_total')?.type, 'counter')
  assert.equal(fb.get('process_cpu_seconds_total')?.type, 'counter')
})

test('series survive a reload: the same service keeps counting in the next generation', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'ok', prefix: '/api/ok', upstreams: [up.origin] }]))
  await gw.inject('/api/ok/1')
  await gw.gateway.applyServices(gw.config.services.map((s) => ({ ...s })))
  await gw.inject('/api/ok/2')
  const { families } = await scrape(gw)
  assert.equal(value(families, 'gatehouse_http_requests_total', { service: 'ok', method: 'GET', code: '200' }), 2)
})
