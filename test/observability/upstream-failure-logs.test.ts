import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway, type TestGateway } from '../helpers/gateway.ts'
import { quickBreaker, switchableUpstream } from '../resilience/support.ts'
import { UPSTREAM_FAILED } from '../../apps/gateway/logger.ts'

// What an operator reads at warn when upstream calls fail: one short line per real upstream
// failure, with its cause; nothing per request for clients that hung up, nor per request a
// circuit refused (the access log and metrics carry those).

function warnLines (gw: TestGateway) {
  return gw.logs.filter((l) => Number(l.level) >= 40)
}

test('a refused upstream connection is logged once at warn with its cause and without a stack', async (t) => {
  const port = await closedPort()
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [`http://127.0.0.1:${port}`], retries: 0 }]))
  const res = await gw.inject('/api/users/1')
  assert.equal(res.statusCode, 502)
  const lines = warnLines(gw)
  assert.equal(lines.length, 1, JSON.stringify(lines))
  const line = lines[0]!
  assert.equal(line.msg, UPSTREAM_FAILED)
  assert.equal(line.reqId, res.headers['x-request-id'], 'joins the access log by request id')
  const err = line.error as Record<string, unknown>
  assert.equal(err.type, 'Error')
  assert.equal(err.code, 'ECONNREFUSED')
  assert.match(String(err.message), /ECONNREFUSED/)
  assert.ok(!gw.rawLogs.some((raw) => raw.includes('"stack"')), 'no stack trace for a transport error')
})

test('a client that hangs up while the upstream works leaves no warn line (log flooding by abandoned requests)', async (t) => {
  const up = await createUpstream(t, () => { /* never answers */ })
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { logging: { level: 'info', access: true } }), { listen: true })
  const { port } = new URL(gw.url!)
  for (let i = 0; i < 3; i++) {
    const reached = up.nextRequest()
    const socket = net.connect(Number(port), '127.0.0.1')
    socket.write('GET /api/users/slow HTTP/1.1\r\nHost: x\r\n\r\n')
    const upstreamReq = await reached
    const upstreamGone = once(upstreamReq.socket, 'close')
    socket.destroy()
    await upstreamGone
  }
  const aborted = gw.logs.filter((l) => l.msg === 'request aborted')
  assert.equal(aborted.length, 3, 'each abandoned request is in the access log (else this test proves nothing)')
  assert.deepEqual(warnLines(gw), [])
})

test('requests refused by an open circuit add no warn line each (log flooding during an outage)', async (t) => {
  const up = await switchableUpstream(t, 'reset')
  const gw = await createGateway(t, baseConfig([{
    name: 'users',
    prefix: '/api/users',
    upstreams: [up.origin],
    retries: 0,
    circuitBreaker: quickBreaker({ resetTimeout: '1m' })
  }]))
  for (let i = 0; i < 4; i++) assert.equal((await gw.inject('/api/users/1')).statusCode, 502)
  const before = warnLines(gw)
  assert.equal(before.filter((l) => l.msg === UPSTREAM_FAILED).length, 4, 'each real failure is logged')
  for (let i = 0; i < 20; i++) {
    const res = await gw.inject('/api/users/1')
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().code, 'GW_CIRCUIT_OPEN')
  }
  assert.deepEqual(warnLines(gw).slice(before.length), [])
})
