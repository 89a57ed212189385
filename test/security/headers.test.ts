import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { rawRequest } from '../helpers/raw-http.ts'

async function gatewayWithUpstream (t: import('node:test').TestContext) {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }]), { listen: true })
  return { up, gw }
}

test('oversized header block is answered 431 without crashing', async (t) => {
  const { up, gw } = await gatewayWithUpstream(t)
  const res = await rawRequest(gw.url!, `GET /api/x/1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17000)}\r\n\r\n`)
  assert.equal(res.status, 431)
  assert.equal(JSON.parse(res.body).code, 'GW_HEADERS_TOO_LARGE')
  assert.equal(up.requests.length, 0)
  const ok = await rawRequest(gw.url!, 'GET /api/x/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.equal(ok.status, 200)
})

test('CR/LF injection in a header value cannot add headers or split the request', async (t) => {
  const { up, gw } = await gatewayWithUpstream(t)
  const res = await rawRequest(gw.url!, 'GET /api/x/1 HTTP/1.1\r\nHost: x\r\nX-A: a\rX-Injected: 1\r\nConnection: close\r\n\r\n')
  assert.equal(res.status, 400)
  assert.equal(up.requests.length, 0)
})

test('Host header with a path or credentials is never used to build a Location', async (t) => {
  const up = await createUpstream(t, (_req, res) => {
    res.writeHead(302, { location: `http://127.0.0.1:${(up.server.address() as { port: number }).port}/next` })
    res.end()
  })
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }]), { listen: true })
  for (const host of ['evil.example/x', 'user@evil.example', 'evil.example:99999999']) {
    const res = await rawRequest(gw.url!, `GET /api/x/1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    if (res.status === 400) continue // Node refused the Host outright: also safe
    assert.equal(res.status, 302)
    assert.ok(!res.headers.location!.includes('evil'), res.headers.location)
    assert.ok(!res.headers.location!.includes('127.0.0.1'), 'the upstream address never leaks')
  }
})
