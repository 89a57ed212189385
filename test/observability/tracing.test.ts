// Tracing (SPEC "Status page, config schema, tracing"): spans exported over OTLP/HTTP
// (JSON) to a real receiver, ids that match the access log and the upstream's
// traceparent, parent-based sampling, and a collector that cannot slow a request.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { createOtlpReceiver } from '../helpers/otlp-receiver.ts'
import { metricValue } from '../helpers/metrics.ts'
import { waitFor } from '../helpers/wait.ts'

const SERVER = 2
const CLIENT = 3
const FAST = { delayMs: 20, exportTimeoutMs: 500 }

function tracing (url: string, extra: Record<string, unknown> = {}) {
  return { tracing: { otlp: { url }, serviceName: 'gatehouse-test', ...extra }, logging: { level: 'info', access: true } }
}

test('one SERVER span per request and one CLIENT span per attempt; the upstream sees the CLIENT span as its parent, the access log the same trace id', async (t) => {
  const otlp = await createOtlpReceiver(t)
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }], tracing(otlp.url)), { listen: true, build: { tracing: FAST } })
  const res = await request(`${gw.url}/api/users/7`)
  assert.equal(res.statusCode, 200)
  await res.body.dump()
  const [a, b] = await otlp.waitForSpans(2)
  const server = [a!, b!].find((s) => s.kind === SERVER)!
  const client = [a!, b!].find((s) => s.kind === CLIENT)!
  assert.ok(server && client, 'a SERVER and a CLIENT span')
  assert.equal(server.name, 'GET /api/users')
  assert.equal(server.service, 'gatehouse-test')
  assert.equal(server.attributes['http.request.method'], 'GET')
  assert.equal(server.attributes['http.route'], '/api/users')
  assert.equal(server.attributes['http.response.status_code'], 200)
  assert.equal(server.attributes['gatehouse.service'], 'users')
  assert.equal(server.parentSpanId, '', 'a new trace: the SERVER span is its root')
  assert.equal(client.traceId, server.traceId)
  assert.equal(client.parentSpanId, server.spanId)
  assert.equal(client.attributes['server.address'], '127.0.0.1')
  assert.equal(client.attributes['server.port'], up.port)
  assert.equal(client.attributes['http.response.status_code'], 200)
  assert.equal(up.requests[0]!.headers.traceparent, `00-${server.traceId}-${client.spanId}-01`)
  const line = await gw.waitForLog((l) => l.path === '/api/users/7')
  assert.equal(line.traceId, server.traceId)
})

test('a retried attempt is a CLIENT span of its own, the refused one marked with error.type', async (t) => {
  const otlp = await createOtlpReceiver(t)
  const up = await createUpstream(t)
  const refused = `http://127.0.0.1:${await closedPort()}`
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [refused, up.origin], retries: 1, circuitBreaker: false }], tracing(otlp.url)), { listen: true, build: { tracing: FAST } })
  // Round-robin: one of two requests goes to the refused upstream first and is retried.
  for (let i = 0; i < 2; i++) await (await request(`${gw.url}/api/users/${i}`)).body.dump()
  await otlp.waitForSpans(5)
  await gw.gateway.ctx.tracing!.forceFlush()
  const clients = otlp.spans.filter((s) => s.kind === CLIENT)
  const refusedSpans = clients.filter((s) => s.attributes['error.type'] === 'refused')
  assert.ok(refusedSpans.length >= 1, 'the refused attempt has its span')
  assert.equal(clients.length, 2 + refusedSpans.length, 'one span per attempt: each request\'s answer, plus each refusal')
  const failed = refusedSpans[0]!
  assert.equal(failed.status.code, 2, 'status ERROR')
  const retried = clients.filter((s) => s.traceId === failed.traceId)
  assert.equal(retried.length, 2, 'both attempts of that request, in one trace')
  const last = retried.find((s) => s !== failed)!
  const sent = up.requests.find((r) => String(r.headers.traceparent).includes(failed.traceId))!
  assert.equal(sent.headers.traceparent, `00-${failed.traceId}-${last.spanId}-01`, 'the upstream that answered saw its own attempt\'s span')
})

test('a sampled incoming traceparent is kept (same trace, its span the parent) even with sampleRatio 0; a new trace is then not sampled', async (t) => {
  const otlp = await createOtlpReceiver(t)
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }], tracing(otlp.url, { sampleRatio: 0 })), { listen: true, build: { tracing: FAST } })
  const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  await (await request(`${gw.url}/api/users/1`, { headers: { traceparent: incoming } })).body.dump()
  // Not sampled: no span exported, and the upstream is told so (flags 00).
  await (await request(`${gw.url}/api/users/2`)).body.dump()
  const unsampled = up.requests[1]!.headers.traceparent as string
  assert.match(unsampled, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/)
  const spans = await otlp.waitForSpans(2)
  await gw.gateway.ctx.tracing!.forceFlush()
  assert.equal(otlp.spans.length, 2, 'only the sampled request\'s two spans')
  const server = spans.find((s) => s.kind === SERVER)!
  assert.equal(server.traceId, '0af7651916cd43dd8448eb211c80319c')
  assert.equal(server.parentSpanId, 'b7ad6b7169203331')
  assert.ok(!spans.some((s) => unsampled.includes(s.traceId)))
})

test('an answer the gateway made carries gatehouse.code on its span, and 5xx marks it as an error', async (t) => {
  const otlp = await createOtlpReceiver(t)
  const refused = `http://127.0.0.1:${await closedPort()}`
  const gw = await createGateway(t, baseConfig([{ name: 'down', prefix: '/api/down', upstreams: [refused], retries: 0 }], tracing(otlp.url)), { listen: true, build: { tracing: FAST } })
  await (await request(`${gw.url}/api/down/1`)).body.dump()
  await (await request(`${gw.url}/nowhere`)).body.dump()
  const spans = await otlp.waitForSpans(3)
  const down = spans.find((s) => s.kind === SERVER && s.name === 'GET /api/down')!
  assert.equal(down.attributes['gatehouse.code'], 'GW_BAD_GATEWAY')
  assert.equal(down.attributes['http.response.status_code'], 502)
  assert.equal(down.status.code, 2)
  const unmatched = spans.find((s) => s.kind === SERVER && s.name === 'GET')!
  assert.equal(unmatched.attributes['gatehouse.code'], 'GW_NOT_FOUND')
  assert.equal(unmatched.attributes['gatehouse.service'], 'unmatched')
})

test('a hanging collector never holds a request: answers keep coming, and spans past the queue bound are counted as dropped', async (t) => {
  const otlp = await createOtlpReceiver(t)
  otlp.mode = 'hang'
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }], tracing(otlp.url)),
    { listen: true, build: { tracing: { maxQueue: 4, batchSize: 2, delayMs: 10, exportTimeoutMs: 300 } } })
  await (await request(`${gw.url}/api/users/0`)).body.dump()
  // The first export is out and will never be answered.
  await otlp.waitForExports(1)
  for (let i = 1; i <= 20; i++) {
    const res = await request(`${gw.url}/api/users/${i}`)
    assert.equal(res.statusCode, 200)
    await res.body.dump()
  }
  // 21 requests, 2 spans each, at most 4 waiting: most are dropped at once, and what the
  // hanging exports carried is counted when they time out.
  const dropped = async () => await metricValue(gw.gateway, 'gatehouse_tracing_spans_dropped_total', {}) ?? 0
  assert.ok(await dropped() >= 42 - 4 - 2 * 2, `dropped at once: ${await dropped()}`)
  await waitFor('the hung exports to time out and be counted', async () => await dropped() >= 38, 5000)
})
