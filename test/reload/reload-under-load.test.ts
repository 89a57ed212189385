import { test } from 'node:test'
import assert from 'node:assert/strict'
import autocannon from 'autocannon'
import { createUpstream } from '../helpers/upstream.ts'
import { gatewayFromFiles, serviceYaml } from './config-files.ts'
import { metricValue } from '../helpers/metrics.ts'

const CONNECTIONS = 32
const DURATION_S = 3
const RELOADS = 10

function load (url: string, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration, timeout: 5 }, (err, result) => {
      if (err) reject(err)
      else resolve(result)
    })
  })
}

function failures (r: autocannon.Result): string {
  return `non2xx=${r.non2xx} errors=${r.errors} timeouts=${r.timeouts} resets=${r.resets}`
}

test('ten reloads under load: the unchanged service answers every request; p99 with and without reloads', async (t) => {
  const steady = await createUpstream(t)
  const churn = await createUpstream(t)
  const gw = await gatewayFromFiles(t, 'logging: { level: warn, access: false }\n', {
    'steady.yaml': serviceYaml('steady', '/api/steady', steady.origin),
    'churn.yaml': serviceYaml('churn', '/api/churn-0', churn.origin),
  }, { listen: true })
  const url = `${gw.url}/api/steady/items/1`

  await load(url, 1) // warm-up: JIT, keep-alive sockets to the upstream
  const baseline = await load(url, DURATION_S)
  assert.equal(baseline.non2xx + baseline.errors + baseline.timeouts, 0, failures(baseline))

  // Ten reloads spread over the run, each replacing another service's route (a new
  // generation every time); the load only hits the unchanged one.
  const generations = new Set([gw.gateway.current()])
  const reloads = (async () => {
    const results: string[] = []
    const took: number[] = []
    for (let i = 1; i <= RELOADS; i++) {
      await new Promise((resolve) => setTimeout(resolve, (DURATION_S * 1000) / (RELOADS + 2)))
      await gw.writeService('churn.yaml', serviceYaml('churn', `/api/churn-${i}`, churn.origin))
      const start = performance.now()
      results.push((await gw.reloader.reloadServicesDir()).result)
      took.push(performance.now() - start)
      generations.add(gw.gateway.current())
    }
    return { results, took }
  })()
  const [during, { results, took }] = await Promise.all([load(url, DURATION_S), reloads])

  assert.deepEqual(results, Array(RELOADS).fill('success'))
  assert.equal(generations.size, RELOADS + 1)
  assert.equal(await metricValue(gw, 'gatehouse_config_reloads_total', { result: 'success' }), RELOADS)
  assert.ok(during.requests.total > 0)
  assert.equal(during.non2xx, 0, failures(during))
  assert.equal(during.errors, 0, failures(during))
  assert.equal(during.timeouts, 0, failures(during))
  assert.equal(during.resets, 0, failures(during))
  assert.equal((await gw.inject(`/api/churn-${RELOADS}/x`)).statusCode, 200)

  t.diagnostic(`without reloads: ${baseline.requests.total} req, ${baseline.requests.average} req/s, p50 ${baseline.latency.p50} ms, p99 ${baseline.latency.p99} ms`)
  t.diagnostic(`reload (read dir, validate, build, swap): mean ${Math.round(took.reduce((a, b) => a + b, 0) / took.length)} ms, max ${Math.round(Math.max(...took))} ms`)
  t.diagnostic(`with ${RELOADS} reloads: ${during.requests.total} req, ${during.requests.average} req/s, p50 ${during.latency.p50} ms, p99 ${during.latency.p99} ms`)
})
