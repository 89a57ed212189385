import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request } from 'undici'
import { createRawUpstream } from '../helpers/raw-upstream.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok'

async function gatewayFor (t: import('node:test').TestContext, origin: string, extra: Record<string, unknown> = {}, service: Record<string, unknown> = {}) {
  return createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [origin], retries: 0, ...service }],
    { logging: { level: 'warn', access: false }, ...extra }), { listen: true })
}

async function expectProblem (url: string, status: number, code: string, method = 'GET') {
  const res = await request(url, { method })
  assert.equal(res.statusCode, status)
  const body = await res.body.json() as { code: string }
  assert.equal(body.code, code)
}

test('failing upstream: malformed status line is a 502 and the cause is logged', async (t) => {
  const up = await createRawUpstream(t, (s) => s.end('HTTP/1.1 abc Nope\r\n\r\n'))
  const gw = await gatewayFor(t, up.origin)
  await expectProblem(`${gw.url}/api/x/1`, 502, 'GW_BAD_GATEWAY')
  assert.ok(gw.logs.some((l) => (l.level as number) >= 40 && JSON.stringify(l).includes('Invalid status code')), 'parser error logged')
})

test('failing upstream: invalid header bytes are a 502, never relayed', async (t) => {
  const up = await createRawUpstream(t, (s) => s.end('HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok'))
  const gw = await gatewayFor(t, up.origin)
  await expectProblem(`${gw.url}/api/x/1`, 502, 'GW_BAD_GATEWAY')
})

test('failing upstream: a huge response header block is a 502, not a crash', async (t) => {
  const up = await createRawUpstream(t, (s) => s.end(`HTTP/1.1 200 OK\r\nX-Huge: ${'h'.repeat(200 * 1024)}\r\nContent-Length: 2\r\n\r\nok`))
  const gw = await gatewayFor(t, up.origin)
  await expectProblem(`${gw.url}/api/x/1`, 502, 'GW_BAD_GATEWAY')
})

test('failing upstream: reset after the headers cuts the client response instead of faking success', async (t) => {
  const up = await createRawUpstream(t, (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(1000))
    setImmediate(() => s.resetAndDestroy())
  })
  const gw = await gatewayFor(t, up.origin)
  const res = await request(`${gw.url}/api/x/1`)
  assert.equal(res.statusCode, 200)
  await assert.rejects(res.body.text(), 'the truncated body surfaces as an error to the client')
  const again = await request(`${gw.url}/api/x/1`)
  await again.body.dump().catch(() => {})
  assert.ok(again.statusCode > 0, 'the gateway still answers after a reset')
})

test('failing upstream: hang is cut at the upstream timeout with 504 and the socket closed', async (t) => {
  const up = await createRawUpstream(t, () => { /* never answers */ })
  const gw = await gatewayFor(t, up.origin, { server: { timeouts: { upstream: '300ms' } } })
  await expectProblem(`${gw.url}/api/x/1`, 504, 'GW_UPSTREAM_TIMEOUT')
  await waitFor('the gateway to close its upstream socket', () => up.connections() === 0, 1000)
})

test('failing upstream: slow drip headers are bounded by the upstream timeout with 504', async (t) => {
  const up = await createRawUpstream(t, (s) => {
    // One header byte every 100 ms: the headers would take minutes to complete.
    const head = 'HTTP/1.1 200 OK\r\nX-Drip: ' + 'x'.repeat(2000)
    let i = 0
    const timer = setInterval(() => { if (!s.destroyed) s.write(head[i++ % head.length]!) }, 100)
    s.on('close', () => clearInterval(timer))
  })
  const gw = await gatewayFor(t, up.origin, { server: { timeouts: { upstream: '400ms' } } })
  await expectProblem(`${gw.url}/api/x/1`, 504, 'GW_UPSTREAM_TIMEOUT')
})

test('failing upstream: a body that stalls longer than the upstream timeout is cut', async (t) => {
  const up = await createRawUpstream(t, (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst bytes')
    // ...and then nothing, for ever.
  })
  const gw = await gatewayFor(t, up.origin, { server: { timeouts: { upstream: '400ms' } } })
  const res = await request(`${gw.url}/api/x/1`)
  assert.equal(res.statusCode, 200)
  await assert.rejects(res.body.text(), 'the client sees the truncation instead of waiting for ever')
  await waitFor('the gateway to close the stalled upstream socket', () => up.connections() === 0, 1000)
})

test('failing upstream: a keep-alive socket the upstream closed while idle is not reused: the GET and the POST after it each reach the upstream once', async (t) => {
  // Every connection answers one request with keep-alive, then the upstream closes it
  // while it idles in the gateway's pool (the classic stale socket).
  const closedWhileIdle: Array<Promise<unknown>> = []
  const up = await createRawUpstream(t, (s) => {
    s.write(OK.replace('\r\n\r\n', '\r\nConnection: keep-alive\r\n\r\n'))
    closedWhileIdle.push(once(s, 'close'))
    s.end()
  })
  const gw = await gatewayFor(t, up.origin, {}, { retries: 1 })
  for (const [i, method] of (['GET', 'GET', 'POST'] as const).entries()) {
    const res = await request(`${gw.url}/api/x/${i}`, { method, body: method === 'POST' ? 'order=1' : undefined })
    assert.equal(res.statusCode, 200, `${method} ${i} after a stale socket`)
    await res.body.dump()
    await closedWhileIdle[i]
  }
  assert.deepEqual(up.requests.map((r) => r.split(' ')[0]), ['GET', 'GET', 'POST'])
})

test('failing upstream: a reused keep-alive socket closed after the upstream read the GET is one 502, not a second send', async (t) => {
  // Answers the first request on a socket; reads the next one and closes without a word.
  const perSocket = new WeakMap<object, number>()
  const up = await createRawUpstream(t, (s) => {
    const n = (perSocket.get(s) ?? 0) + 1
    perSocket.set(s, n)
    if (n === 1) s.write(OK.replace('\r\n\r\n', '\r\nConnection: keep-alive\r\n\r\n'))
    else s.destroy()
  })
  const gw = await gatewayFor(t, up.origin, {}, { retries: 1 })
  const first = await request(`${gw.url}/api/x/1`)
  assert.equal(first.statusCode, 200)
  await first.body.dump()
  const get = await request(`${gw.url}/api/x/2`)
  assert.equal(get.statusCode, 502, 'the upstream may have acted on it')
  await get.body.dump()
  assert.equal(up.requests.length, 2)
})

test('after each failing-upstream case a healthy service on the same gateway still answers 200', async (t) => {
  const bad = await createRawUpstream(t, (s) => s.end('garbage\r\n\r\n'))
  const good = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'bad', prefix: '/api/bad', upstreams: [bad.origin], retries: 0, circuitBreaker: false },
    { name: 'good', prefix: '/api/good', upstreams: [good.origin] },
  ]), { listen: true })
  for (let i = 0; i < 20; i++) {
    const res = await request(`${gw.url}/api/bad/${i}`)
    await res.body.dump()
    assert.equal(res.statusCode, 502)
  }
  const ok = await request(`${gw.url}/api/good/1`)
  assert.equal(ok.statusCode, 200)
  await ok.body.dump()
})
