import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Agent } from 'undici'
import { baseConfig, createGateway, resolveOrThrow } from '../helpers/gateway.ts'
import { buildGateway } from '../../apps/gateway/app.ts'
import { caAndLeaf, certDir, selfSigned, type CertFiles } from './certs.ts'

interface HttpsUpstream { origin: string, requests: Array<{ url: string, headers: Record<string, unknown>, encrypted: boolean }>, connections: () => number }

// A real https upstream on 127.0.0.1 with the given certificate.
async function httpsUpstream (t: TestContext, leaf: CertFiles): Promise<HttpsUpstream> {
  const requests: HttpsUpstream['requests'] = []
  let connections = 0
  const server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    requests.push({ url: req.url!, headers: req.headers, encrypted: (req.socket as TLSSocket).encrypted })
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ok: true, url: req.url }))
  })
  server.on('secureConnection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, connections: () => connections }
}

test('https upstream with upstreamTls.ca: calls go over TLS to the upstream, verified against the private CA', async (t) => {
  const dir = certDir(t)
  const { ca, leaf } = caAndLeaf(dir, 'orders')
  const up = await httpsUpstream(t, leaf)
  const gw = await createGateway(t, baseConfig([
    { name: 'orders', prefix: '/api/orders', upstreams: [up.origin], upstreamTls: { ca: ca.cert, rejectUnauthorized: true } },
  ]))
  const res = await gw.inject('/api/orders/42?x=1')
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { ok: true, url: '/42?x=1' })
  assert.equal(up.requests.length, 1)
  assert.equal(up.requests[0]!.encrypted, true)
  assert.equal(up.requests[0]!.headers.host, new URL(up.origin).host)
  assert.equal(up.connections(), 1)
})

test('https upstream whose certificate no trusted CA signed is refused with 502: shared Agent (system CAs), and rejectUnauthorized: true without its CA', async (t) => {
  const dir = certDir(t)
  const { leaf } = caAndLeaf(dir, 'unknown')
  const up = await httpsUpstream(t, leaf)
  const gw = await createGateway(t, baseConfig([
    { name: 'plain', prefix: '/api/plain', upstreams: [up.origin], retries: 0 },
    { name: 'strict', prefix: '/api/strict', upstreams: [up.origin], upstreamTls: { rejectUnauthorized: true }, retries: 0 },
    { name: 'other-ca', prefix: '/api/other', upstreams: [up.origin], upstreamTls: { ca: selfSigned(dir, 'other').cert }, retries: 0 },
  ]))
  for (const path of ['/api/plain/1', '/api/strict/1', '/api/other/1']) {
    const res = await gw.inject(path)
    assert.equal(res.statusCode, 502, path)
    assert.equal(res.json().code, 'GW_BAD_GATEWAY')
    assert.ok(!res.body.includes('127.0.0.1'), 'no upstream address in the answer')
  }
  assert.equal(up.requests.length, 0, 'no request was sent over an unverified connection')
})

test('a service with upstreamTls has its own pool: its trust never leaks to another service calling the same origin', async (t) => {
  const dir = certDir(t)
  const { ca, leaf } = caAndLeaf(dir, 'shared-origin')
  const up = await httpsUpstream(t, leaf)
  const gw = await createGateway(t, baseConfig([
    { name: 'trusting', prefix: '/api/trusting', upstreams: [up.origin], upstreamTls: { ca: ca.cert } },
    { name: 'lax', prefix: '/api/lax', upstreams: [up.origin], upstreamTls: { rejectUnauthorized: false } },
    { name: 'default', prefix: '/api/default', upstreams: [up.origin], retries: 0 },
  ]))
  // Warm the CA-trusting and the lax pools first; the default service must still verify on its own.
  assert.equal((await gw.inject('/api/trusting/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/lax/1')).statusCode, 200)
  assert.equal((await gw.inject('/api/default/1')).statusCode, 502)
  assert.equal(up.requests.length, 2)
})

test('a service\'s TLS Agent is closed when the service is removed or its upstreamTls changes, and at gateway close', async (t) => {
  const dir = certDir(t)
  const { ca, leaf } = caAndLeaf(dir, 'agents')
  const up = await httpsUpstream(t, leaf)
  const service = { name: 'orders', prefix: '/api/orders', upstreams: [up.origin], upstreamTls: { ca: ca.cert } }
  const gw = await createGateway(t, baseConfig([service]))
  assert.equal((await gw.inject('/api/orders/1')).statusCode, 200)
  const agentOf = () => gw.gateway.current().services.find((s) => s.name === 'orders')?.upstreams[0]!.agent as Agent | null | undefined
  const first = agentOf()!
  assert.ok(first !== null && first !== gw.gateway.ctx.agent, 'the service has an Agent of its own')

  // New upstreamTls (rejectUnauthorized flipped): a new Agent, the old one closed.
  const changed = gw.config.services.map((s) => ({ ...s, upstreamTls: { ca: s.upstreamTls!.ca, rejectUnauthorized: false } }))
  await gw.gateway.applyServices(changed)
  const second = agentOf()!
  assert.notEqual(second, first)
  assert.equal(first.closed, true)
  assert.equal((await gw.inject('/api/orders/2')).statusCode, 200)

  await gw.gateway.applyServices([])
  assert.equal(second.closed, true, 'removing the service closes its Agent')
  assert.equal(gw.gateway.ctx.agent.closed, false, 'the shared Agent stays')

  await gw.gateway.applyServices(gw.config.services)
  const third = agentOf()!
  assert.equal(third.closed, false)
  // The helper closes the gateway when the test ends; a second gateway shows close() itself.
  const config = resolveOrThrow(baseConfig([service], { logging: { level: 'silent', access: false } }))
  const other = await buildGateway(config)
  const own = other.current().services[0]!.upstreams[0]!.agent as Agent
  await other.close()
  assert.equal(own.closed, true, 'gateway close closes service Agents')
})
