import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'

function assertProblem (res: { statusCode: number, headers: Record<string, unknown>, json: () => any, body: string }, status: number, code: string) {
  assert.equal(res.statusCode, status)
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
  const body = res.json()
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'requestId', 'status', 'title', 'type'])
  assert.equal(body.code, code)
  assert.equal(body.status, status)
  assert.equal(body.requestId, res.headers['x-request-id'])
  assert.ok(!/127\.0\.0\.1|localhost|ECONN|at .*\(/.test(res.body), `no internals in ${res.body}`)
}

test('refused upstream connection answers 502 problem+json without the upstream address', async (t) => {
  const port = await closedPort()
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [`http://127.0.0.1:${port}`], retries: 0 }],
    { logging: { level: 'warn', access: false } }))
  const res = await gw.inject('/api/users/1')
  assertProblem(res, 502, 'GW_BAD_GATEWAY')
  assert.ok(gw.logs.some((l) => JSON.stringify(l).includes('ECONNREFUSED')), 'the cause is logged')
})

test('an upstream slower than timeouts.upstream answers 504 and the upstream sees the connection closed', async (t) => {
  let closedSeen!: () => void
  const closed = new Promise<void>((resolve) => { closedSeen = resolve })
  const up = await createUpstream(t, (req) => {
    req.socket.once('close', () => closedSeen())
  })
  const gw = await createGateway(t, baseConfig([{ name: 'slow', prefix: '/api/slow', upstreams: [up.origin] }],
    { server: { timeouts: { upstream: '200ms' } } }))
  const res = await gw.inject('/api/slow/x')
  assertProblem(res, 504, 'GW_UPSTREAM_TIMEOUT')
  await closed
})

test('an upstream that resets the connection answers 502', async (t) => {
  const up = await createUpstream(t, (req) => { req.socket.destroy() })
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin], retries: 0 }]))
  const res = await gw.inject({ method: 'POST', url: '/api/x/1', payload: 'a' })
  assertProblem(res, 502, 'GW_BAD_GATEWAY')
})

test('upstream 5xx responses are relayed as they are, not replaced', async (t) => {
  const up = await createUpstream(t, (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '7' })
    res.end('upstream maintenance')
  })
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }]))
  const res = await gw.inject('/api/x/1')
  assert.equal(res.statusCode, 503)
  assert.equal(res.body, 'upstream maintenance')
  assert.equal(res.headers['retry-after'], '7')
})

test('a declared body over bodyLimit is 413 and never forwarded', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }], { server: { bodyLimit: '1kb' } }))
  const res = await gw.inject({ method: 'POST', url: '/api/x/1', payload: Buffer.alloc(2048), headers: { 'content-type': 'application/octet-stream' } })
  assertProblem(res, 413, 'GW_PAYLOAD_TOO_LARGE')
  assert.equal(up.requests.length, 0)
})
