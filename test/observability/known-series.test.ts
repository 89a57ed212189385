import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { promisify } from 'node:util'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { gatewayFromFiles, nextReload, serviceYaml } from '../reload/config-files.ts'
import { scrape, samples, type Family } from '../helpers/metrics.ts'

// Prometheus takes a series' first sample as its baseline: a counter that appears at 1
// shows no increase, so the first breaker opening, 429 or 401 would never be seen. Every
// counter series whose labels the config makes known exists, at 0, from the start.

const run = promisify(execFile)
const TOKEN = 'known-series-admin-token'
const SECRET = 'known-series-secret-0123456789abcdef'
const KINDS = ['timeout', 'refused', 'reset', 'status_5xx']
const TRANSITIONS = ['open', 'half_open', 'closed']
const REASONS = ['missing', 'invalid', 'expired', 'scope']

// label value -> sample value, for the samples of `name` that match `where`.
function byLabel (families: Map<string, Family>, name: string, label: string, where: Record<string, string>): Record<string, number> {
  return Object.fromEntries(samples(families, name, where).map((s) => [s.labels[label], s.value]))
}

const zeros = (values: string[]) => Object.fromEntries(values.map((v) => [v, 0]))

function assertServiceSeries (families: Map<string, Family>, service: string, upstreams: string[],
  has: { breaker: boolean, rateLimit: boolean, auth: boolean }) {
  for (const upstream of upstreams) {
    assert.deepEqual(byLabel(families, 'gatehouse_upstream_errors_total', 'kind', { service, upstream }), zeros(KINDS), `${service} ${upstream} errors`)
    assert.deepEqual(byLabel(families, 'gatehouse_circuit_transitions_total', 'to', { service, upstream }), has.breaker ? zeros(TRANSITIONS) : {},
      `${service} ${upstream} transitions`)
  }
  assert.deepEqual(samples(families, 'gatehouse_rate_limited_total', { service }).map((s) => s.value), has.rateLimit ? [0] : [], `${service} rate limited`)
  assert.deepEqual(byLabel(families, 'gatehouse_auth_failures_total', 'reason', { service }), has.auth ? zeros(REASONS) : {}, `${service} auth failures`)
}

function assertNoSeries (families: Map<string, Family>, service: string) {
  for (const name of ['gatehouse_upstream_errors_total', 'gatehouse_circuit_transitions_total', 'gatehouse_rate_limited_total',
    'gatehouse_auth_failures_total', 'gatehouse_http_requests_total', 'gatehouse_upstream_request_duration_seconds_count']) {
    assert.deepEqual(samples(families, name, { service }), [], `no ${name} for ${service}`)
  }
}

// `promtool check metrics` reads the exposition on stdin. A format error fails; so does
// any lint remark on a gatehouse_* metric. prom-client's default Node metrics have
// remarks of their own (nodejs_active_handles_total is a gauge): not ours to rename.
async function promtoolCheck (t: TestContext, text: string) {
  try {
    await run('promtool', ['--version'])
  } catch {
    t.diagnostic('promtool not installed: skipping `promtool check metrics` on the exposition')
    return
  }
  const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c })
  child.stderr.on('data', (c: Buffer) => { output += c })
  child.stdin.end(text)
  const [code] = await once(child, 'close') as [number]
  const remarks = output.split('\n').filter((line) => line.trim() !== '')
  assert.deepEqual(remarks.filter((line) => !/^(?:nodejs|process)_\S+ /.test(line)), [], 'promtool check metrics')
  assert.ok(code === 0 || remarks.length > 0, `promtool exited ${code}`)
}

test('right after start, /metrics has every counter series the config makes known, at 0', async (t) => {
  const [a, b, c] = await Promise.all([createUpstream(t), createUpstream(t), createUpstream(t)])
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [a.origin, b.origin], auth: 'required', rateLimit: { max: 5, window: '1m' } },
    { name: 'public', prefix: '/public', upstreams: [c.origin], circuitBreaker: false, rateLimit: false },
  ], { auth: { jwt: { secret: SECRET } }, rateLimit: { store: 'memory' } }), { listen: true })

  const { text, families } = await scrape(gw.adminUrl!)
  assertServiceSeries(families, 'users', [a.origin, b.origin], { breaker: true, rateLimit: true, auth: true })
  assertServiceSeries(families, 'public', [c.origin], { breaker: false, rateLimit: false, auth: false })
  assert.deepEqual(byLabel(families, 'gatehouse_config_reloads_total', 'result', {}), { success: 0, failure: 0 })
  await promtoolCheck(t, text)

  // The first 401 is an increase Prometheus can see: from 0 to 1.
  assert.equal((await fetch(`${gw.url}/api/users/1`)).status, 401)
  const after = await scrape(gw.adminUrl!)
  assert.deepEqual(byLabel(after.families, 'gatehouse_auth_failures_total', 'reason', { service: 'users' }), { ...zeros(REASONS), missing: 1 })
})

test('a service an admin PUT or a servicesDir file adds has its series at 0 at once; a deleted one\'s series go', async (t) => {
  const [a, b] = await Promise.all([createUpstream(t), createUpstream(t)])
  const main = `logging: { level: info, access: false }\nadmin: { token: ${TOKEN} }\nauth: { jwt: { secret: ${SECRET} } }\nrateLimit: { store: memory }\n`
  const gw = await gatewayFromFiles(t, main, {}, { listen: true, watch: true })
  const auth = { authorization: `Bearer ${TOKEN}` }

  const put = await fetch(`${gw.adminUrl}/admin/services/orders`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ prefix: '/api/orders', upstreams: [a.origin], auth: 'required', rateLimit: { max: 5, window: '1m' } }),
  })
  assert.equal(put.status, 201)
  let { families } = await scrape(gw.adminUrl!)
  assertServiceSeries(families, 'orders', [a.origin], { breaker: true, rateLimit: true, auth: true })

  const reloaded = nextReload(gw.reloader, (e) => e.result === 'success' && e.added.includes('billing'))
  await gw.writeService('billing.yaml', serviceYaml('billing', '/api/billing', b.origin, 'circuitBreaker: false\n'))
  await reloaded
  ;({ families } = await scrape(gw.adminUrl!))
  assertServiceSeries(families, 'billing', [b.origin], { breaker: false, rateLimit: false, auth: false })
  assertServiceSeries(families, 'orders', [a.origin], { breaker: true, rateLimit: true, auth: true })

  // Traffic to orders, then it goes: none of its series is left behind.
  assert.equal((await fetch(`${gw.url}/api/orders/1`)).status, 401)
  const del = await fetch(`${gw.adminUrl}/admin/services/orders`, { method: 'DELETE', headers: auth })
  assert.equal(del.status, 204)
  ;({ families } = await scrape(gw.adminUrl!))
  assertNoSeries(families, 'orders')
  assertServiceSeries(families, 'billing', [b.origin], { breaker: false, rateLimit: false, auth: false })
})
