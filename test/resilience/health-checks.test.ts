import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Dispatcher } from 'undici'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { HealthChecker } from '../../plugins/breaker/health-check.ts'
import { metricValue } from '../helpers/metrics.ts'
import { waitFor } from '../helpers/wait.ts'
import { switchableUpstream, upstreamState } from './support.ts'

const ADMIN_TOKEN = 'resilience-test-admin-token'

test('an active health check marks an upstream down and back up: gauge, admin view and routing follow', async (t) => {
  const flaky = await switchableUpstream(t)
  const steady = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{
    name: 'users',
    prefix: '/api/users',
    upstreams: [flaky.origin, steady.origin],
    // Timeout = interval: long enough that a loaded test machine never times a check out.
    healthCheck: { path: '/health', interval: '250ms', unhealthyAfter: 2, healthyAfter: 1 }
  }],
  { admin: { token: ADMIN_TOKEN }, logging: { level: 'info', access: false } }))
  const labels = { service: 'users', upstream: flaky.origin }
  const adminView = async () => (await gw.gateway.admin.inject({ url: '/admin/services/users', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()

  await waitFor('a first health check', () => flaky.requests.some((r) => r.url === '/health'))
  assert.equal(await metricValue(gw, 'gatehouse_upstream_up', labels), 1)

  flaky.healthStatus = 503
  await waitFor('the upstream to be marked down', () => !upstreamState(gw, 'users', flaky.origin).up)
  assert.equal(await metricValue(gw, 'gatehouse_upstream_up', labels), 0)
  assert.equal(await metricValue(gw, 'gatehouse_upstream_up', { service: 'users', upstream: steady.origin }), 1)
  assert.deepEqual((await adminView()).upstreams, [
    { origin: flaky.origin, up: false, circuit: 'closed' },
    { origin: steady.origin, up: true, circuit: 'closed' },
  ])
  assert.ok(gw.logs.some((l) => l.msg === 'upstream marked down: health check fails' && l.upstream === flaky.origin && l.reason === 'status 503'))

  const before = flaky.calls
  for (let i = 0; i < 10; i++) assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  assert.equal(flaky.calls, before, 'a down upstream gets no traffic')

  flaky.healthStatus = 200
  await waitFor('the upstream to be marked up', () => upstreamState(gw, 'users', flaky.origin).up)
  assert.equal(await metricValue(gw, 'gatehouse_upstream_up', labels), 1)
  assert.equal((await adminView()).upstreams[0].up, true)
  for (let i = 0; i < 10; i++) await gw.inject('/api/users/1')
  assert.ok(flaky.calls > before, 'traffic comes back')
})

test('a 3xx health answer is healthy; services without a health check count as up', async (t) => {
  const redirecting = await switchableUpstream(t)
  redirecting.healthStatus = 302
  const plain = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'a', prefix: '/api/a', upstreams: [redirecting.origin], healthCheck: { path: '/health', interval: '150ms', unhealthyAfter: 2, healthyAfter: 1 } },
    { name: 'b', prefix: '/api/b', upstreams: [plain.origin] },
  ]))
  await waitFor('three health checks', () => redirecting.requests.filter((r) => r.url === '/health').length >= 3)
  assert.equal(upstreamState(gw, 'a', redirecting.origin).up, true)
  assert.equal(await metricValue(gw, 'gatehouse_upstream_up', { service: 'a', upstream: redirecting.origin }), 1)
  assert.equal(await metricValue(gw, 'gatehouse_upstream_up', { service: 'b', upstream: plain.origin }), 1)
  assert.equal(plain.requests.length, 0, 'no health check without healthCheck')
})

// A scripted agent: each check gets the next status (or hangs until aborted when null).
function scriptedAgent (statuses: Array<number | null>) {
  const calls: Array<{ path: string, signal: AbortSignal }> = []
  const agent = {
    request (opts: { path: string, signal: AbortSignal }) {
      calls.push({ path: opts.path, signal: opts.signal })
      const status = statuses[calls.length - 1]
      if (status === null || status === undefined) {
        return new Promise((_resolve, reject) => {
          opts.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })))
        })
      }
      return Promise.resolve({ statusCode: status, body: { dump: async () => {} } })
    },
  }
  return { agent: agent as unknown as Dispatcher, calls }
}

test('unhealthyAfter / healthyAfter count consecutive checks only', async (t) => {
  // checks:          1    2    3    4    5    6    7    8
  const statuses = [200, 500, 200, 500, 500, 500, 200, 200]
  const { agent, calls } = scriptedAgent(statuses)
  const changes: Array<{ up: boolean, atCheck: number, reason: string | null }> = []
  let done!: () => void
  const finished = new Promise<void>((resolve) => { done = resolve })
  const checker = new HealthChecker({
    agent,
    origin: 'http://127.0.0.1:1',
    config: { path: '/healthz', intervalMs: 5, unhealthyAfter: 2, healthyAfter: 2 },
    onChange (up, reason) {
      changes.push({ up, atCheck: calls.length, reason })
      if (up) done()
    },
  })
  t.after(() => checker.stop())
  checker.start()
  await finished
  checker.stop()
  assert.deepEqual(changes, [
    { up: false, atCheck: 5, reason: 'status 500' },
    { up: true, atCheck: 8, reason: null },
  ])
  assert.ok(calls.every((c) => c.path === '/healthz'))
})

test('a health check that hangs is cut at min(2 s, interval) and counts as a failure; stop() aborts it', async (t) => {
  const { agent, calls } = scriptedAgent([null, null, null])
  let markedDown!: (reason: string | null) => void
  const down = new Promise<string | null>((resolve) => { markedDown = resolve })
  const checker = new HealthChecker({
    agent,
    origin: 'http://127.0.0.1:1',
    config: { path: '/health', intervalMs: 100, unhealthyAfter: 2, healthyAfter: 1 },
    onChange (up, reason) { if (!up) markedDown(reason) },
  })
  t.after(() => checker.stop())
  const started = performance.now()
  checker.start()
  assert.equal(await down, 'timeout')
  const elapsed = performance.now() - started
  assert.ok(elapsed >= 190 && elapsed < 1900, `two checks of ~100 ms each, not 2 s each (${elapsed.toFixed(0)} ms)`)
  await waitFor('the third check to start', () => calls.length === 3)
  checker.stop()
  assert.equal(calls[2]!.signal.aborted, true, 'the check in flight is aborted')
})
