import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import Fastify from 'fastify'
import { request } from 'undici'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway, resolveOrThrow, type TestGateway } from '../helpers/gateway.ts'
import accessLogPlugin from '../../plugins/access-log/index.ts'
import requestContextPlugin from '../../plugins/request-context/index.ts'
import { scrape, value } from '../helpers/metrics.ts'
import { JWT_SECRET, sign } from '../helpers/tokens.ts'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`
const COOKIE = 'session=cookie-value-must-not-be-logged-5b1f'
const QUERY_SECRET = 'query-value-must-not-be-logged-9c2e'

// pino's own fields on every line (from the logger, not the access log).
const PINO_BASE = ['hostname', 'level', 'msg', 'pid', 'time']
const FIELDS = ['clientIp', 'consumer', 'durationMs', 'method', 'path', 'reqId', 'service', 'status', 'traceId',
  'upstream', 'upstreamDurationMs']

function token (sub = 'alice'): string {
  return sign({ sub, scope: 'users:read' })
}

function accessLines (gw: TestGateway) {
  return gw.logs.filter((l) => l.msg === 'request' || l.msg === 'request aborted')
}

function onlyLine (gw: TestGateway, reqId: string) {
  const lines = accessLines(gw).filter((l) => l.reqId === reqId)
  assert.equal(lines.length, 1, `one access line for ${reqId}: ${JSON.stringify(lines)}`)
  return lines[0]!
}

function assertKeys (line: Record<string, unknown>, withCode: boolean) {
  const expected = [...PINO_BASE, ...FIELDS, ...(withCode ? ['code'] : [])].sort()
  assert.deepEqual(Object.keys(line).sort(), expected)
}

async function loggingGateway (t: Parameters<typeof createGateway>[0], services: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  return createGateway(t, baseConfig(services, {
    logging: { level: 'info', access: true },
    auth: { jwt: { secret: JWT_SECRET, algorithms: ['HS256'] } },
    ...extra,
  }), { listen: true })
}

test('a proxied request logs one line with every SPEC field and no query, token or cookie', async (t) => {
  const up = await createUpstream(t)
  const gw = await loggingGateway(t, [{ name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' }])
  const bearer = token()
  const before = Date.now()
  const res = await request(`${gw.url}/api/users/7?token=${QUERY_SECRET}&page=2`, {
    headers: { authorization: `Bearer ${bearer}`, cookie: COOKIE, traceparent: TRACEPARENT },
  })
  assert.equal(res.statusCode, 200)
  const echoed = await res.body.json() as { headers: Record<string, string> }
  assert.equal(echoed.headers.traceparent, TRACEPARENT, 'a valid traceparent is passed upstream as it came')
  const reqId = String(res.headers['x-request-id'])

  const line = onlyLine(gw, reqId)
  assertKeys(line, false)
  assert.equal(line.level, 30) // info
  assert.equal(typeof line.time, 'number')
  assert.ok((line.time as number) >= before && (line.time as number) <= Date.now())
  assert.equal(line.msg, 'request')
  assert.equal(line.reqId, reqId)
  assert.equal(line.traceId, TRACE_ID)
  assert.equal(line.method, 'GET')
  assert.equal(line.path, '/api/users/7')
  assert.equal(line.service, 'users')
  assert.equal(line.upstream, up.origin)
  assert.equal(line.status, 200)
  assert.equal(line.consumer, 'alice')
  assert.equal(line.clientIp, '127.0.0.1')
  assert.equal(typeof line.upstreamDurationMs, 'number')
  assert.ok((line.upstreamDurationMs as number) > 0)
  assert.ok((line.durationMs as number) >= (line.upstreamDurationMs as number), 'gateway time includes upstream time')

  for (const raw of gw.rawLogs) {
    assert.ok(!raw.includes(bearer), `token in ${raw}`)
    assert.ok(!raw.includes(bearer.split('.')[2]!), `token signature in ${raw}`)
    assert.ok(!raw.includes('cookie-value-must-not-be-logged'), `cookie in ${raw}`)
    assert.ok(!raw.includes(QUERY_SECRET), `query value in ${raw}`)
  }
})

test('a request without traceparent gets a new trace id, logged and sent upstream', async (t) => {
  const up = await createUpstream(t)
  const gw = await loggingGateway(t, [{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }])
  const res = await request(`${gw.url}/api/users/7`, { headers: { traceparent: 'not-a-traceparent' } })
  const echoed = await res.body.json() as { headers: Record<string, string> }
  const line = onlyLine(gw, String(res.headers['x-request-id']))
  assert.match(String(line.traceId), /^[0-9a-f]{32}$/)
  assert.equal(echoed.headers.traceparent!.split('-')[1], line.traceId)
})

test('a 401 logs the gateway code, no consumer, no upstream, and never the rejected token', async (t) => {
  const up = await createUpstream(t)
  const gw = await loggingGateway(t, [{ name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required' }])
  const forged = sign({ sub: 'mallory' }, { key: 'some-other-secret-0123456789abcdef', expiresIn: 0 })
  const res = await request(`${gw.url}/api/users/7?q=${QUERY_SECRET}`, {
    headers: { authorization: `Bearer ${forged}`, cookie: COOKIE, traceparent: TRACEPARENT },
  })
  assert.equal(res.statusCode, 401)
  await res.body.dump()
  const line = onlyLine(gw, String(res.headers['x-request-id']))
  assertKeys(line, true)
  assert.equal(line.msg, 'request')
  assert.equal(line.level, 30)
  assert.equal(line.traceId, TRACE_ID)
  assert.equal(line.method, 'GET')
  assert.equal(line.path, '/api/users/7')
  assert.equal(line.service, 'users')
  assert.equal(line.upstream, null)
  assert.equal(line.upstreamDurationMs, null)
  assert.equal(line.status, 401)
  assert.equal(line.code, 'GW_UNAUTHORIZED')
  assert.equal(line.consumer, null)
  assert.equal(line.clientIp, '127.0.0.1')
  assert.equal(typeof line.durationMs, 'number')
  assert.equal(up.requests.length, 0)
  for (const raw of gw.rawLogs) {
    assert.ok(!raw.includes(forged.split('.')[2]!), `token in ${raw}`)
    assert.ok(!raw.includes('cookie-value-must-not-be-logged'), `cookie in ${raw}`)
    assert.ok(!raw.includes(QUERY_SECRET), `query value in ${raw}`)
  }
})

test('a 502 logs the upstream tried, its time and GW_BAD_GATEWAY; the error log carries no secret either', async (t) => {
  const origin = `http://127.0.0.1:${await closedPort()}`
  const gw = await loggingGateway(t, [{ name: 'users', prefix: '/api/users', upstreams: [origin], retries: 0, auth: 'optional' }])
  const bearer = token('bob')
  const res = await request(`${gw.url}/api/users/7?secret=${QUERY_SECRET}`, {
    method: 'POST', body: 'x', headers: { authorization: `Bearer ${bearer}`, cookie: COOKIE },
  })
  assert.equal(res.statusCode, 502)
  await res.body.dump()
  const line = onlyLine(gw, String(res.headers['x-request-id']))
  assertKeys(line, true)
  assert.equal(line.msg, 'request')
  assert.equal(line.method, 'POST')
  assert.equal(line.path, '/api/users/7')
  assert.equal(line.service, 'users')
  assert.equal(line.upstream, origin)
  assert.equal(typeof line.upstreamDurationMs, 'number')
  assert.equal(line.status, 502)
  assert.equal(line.code, 'GW_BAD_GATEWAY')
  assert.equal(line.consumer, 'bob')
  assert.equal(line.clientIp, '127.0.0.1')
  assert.match(String(line.traceId), /^[0-9a-f]{32}$/)
  assert.ok(gw.rawLogs.length > 1, 'the upstream failure itself is logged too')
  for (const raw of gw.rawLogs) {
    assert.ok(!raw.includes(bearer.split('.')[2]!), `token in ${raw}`)
    assert.ok(!raw.includes('cookie-value-must-not-be-logged'), `cookie in ${raw}`)
    assert.ok(!raw.includes(QUERY_SECRET), `query value in ${raw}`)
  }
})

test('unmatched and malformed targets are logged too, with service null and their code', async (t) => {
  const up = await createUpstream(t)
  const gw = await loggingGateway(t, [{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }])
  const cases: Array<[string, number, string]> = [
    ['/nowhere?k=' + QUERY_SECRET, 404, '/nowhere'],
    ['/api/users/%00?k=' + QUERY_SECRET, 400, '/api/users/%00'], // path normaliser
    ['/api/users/%C0%AF?k=' + QUERY_SECRET, 400, '/api/users/%C0%AF'], // Fastify's router (frameworkErrors)
  ]
  for (const [url, status, path] of cases) {
    const res = await gw.inject({ url, headers: { traceparent: TRACEPARENT } })
    assert.equal(res.statusCode, status)
    const line = onlyLine(gw, String(res.headers['x-request-id']))
    assertKeys(line, true)
    assert.equal(line.path, path)
    assert.equal(line.service, null)
    assert.equal(line.status, status)
    assert.equal(line.code, status === 404 ? 'GW_NOT_FOUND' : 'GW_BAD_REQUEST')
    assert.equal(line.traceId, TRACE_ID)
  }
  assert.ok(gw.rawLogs.every((raw) => !raw.includes(QUERY_SECRET)))
})

// The client leaves while the upstream is still working: no response is ever written,
// so onResponse never runs; the request must still get its line and its count.
for (const method of ['GET', 'POST'] as const) {
  test(`a client that disconnects mid-request (${method}) is logged once as aborted with 499 and counted`, async (t) => {
    const up = await createUpstream(t, () => { /* never answers */ })
    const gw = await loggingGateway(t, [{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }])
    const reached = up.nextRequest()
    const { port } = new URL(gw.url!)
    const socket = net.connect(Number(port), '127.0.0.1')
    const body = method === 'POST' ? 'complete-body' : ''
    socket.write(`${method} /api/users/slow HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    const upstreamReq = await reached
    const upstreamGone = once(upstreamReq.socket, 'close')
    socket.destroy()
    // The gateway aborts the upstream call when it sees the client leave; by then the
    // access log and the metrics have recorded the request.
    await upstreamGone
    const lines = accessLines(gw)
    assert.equal(lines.length, 1, JSON.stringify(lines))
    const line = lines[0]!
    assertKeys(line, false)
    assert.equal(line.msg, 'request aborted')
    assert.equal(line.status, 499)
    assert.equal(line.method, method)
    assert.equal(line.service, 'users')
    assert.equal(line.upstream, up.origin)
    assert.equal(line.clientIp, '127.0.0.1')
    assert.equal(line.upstreamDurationMs, null, 'no answer came from the upstream')
    const { families } = await scrape(gw)
    assert.equal(value(families, 'gatehouse_http_requests_total', { service: 'users', method, code: '499' }), 1)
    assert.equal(value(families, 'gatehouse_http_request_duration_seconds_count', { service: 'users', method }), 1)
  })
}

test('logging.access: false writes no access line and registers no hook', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { logging: { level: 'info', access: false } }))
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  assert.equal((await gw.inject('/nowhere')).statusCode, 404)
  assert.deepEqual(accessLines(gw), [])

  for (const [logging, hooked] of [[{ level: 'info', access: false }, false], [{ level: 'warn', access: true }, false], [{ level: 'info', access: true }, true]] as const) {
    const config = resolveOrThrow(baseConfig([], { logging }))
    const app = Fastify({ logger: { level: logging.level } })
    t.after(() => app.close())
    await app.register(requestContextPlugin)
    await app.register(accessLogPlugin, { enabled: config.logging.access })
    // The access log's own onRequest hook comes with this decorator.
    assert.equal(app.hasRequestDecorator('gwClientIp'), hooked, JSON.stringify(logging))
  }
})
