// The same client code against Gatehouse's egress port and a real forward proxy
// (tinyproxy, squid), for the behaviours the products share: CONNECT then bytes,
// absolute-form forwarding, hop-by-hop removal, 407 then success.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { connectVia, createEchoServer, createEgressGateway, roundTrip, type TcpServer } from '../helpers/egress.ts'
import { createUpstream, type Upstream } from '../helpers/upstream.ts'
import { rawRequest } from '../helpers/raw-http.ts'
import { sign } from '../helpers/tokens.ts'
import { referenceMissing, startReference, type ReferenceKind } from '../../bench/forward-proxies.ts'

interface Proxy { name: string, url: string, user: string, password: string }

function basic (p: Proxy): string {
  return `Basic ${Buffer.from(`${p.user}:${p.password}`).toString('base64')}`
}

async function destinations (t: TestContext) {
  return { echo: await createEchoServer(t), http: await createUpstream(t) }
}

async function gatehouse (t: TestContext, d: { echo: TcpServer, http: Upstream }): Promise<Proxy> {
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [d.echo.port, d.http.port] }], allowNetworks: ['127.0.0.1/32'] })
  return { name: 'gatehouse', url: gw.egressUrl, user: 'svc', password: sign('svc-diff') }
}

async function reference (t: TestContext, kind: ReferenceKind): Promise<Proxy> {
  const auth = { user: 'svc', password: 'reference-secret' }
  const ref = await startReference(kind, { auth })
  t.after(() => ref.stop())
  return { name: kind, url: ref.url, ...auth }
}

// The client code every proxy gets: outcomes only, in a form both kinds can match.
async function outcomes (t: TestContext, p: Proxy, d: { echo: TcpServer, http: Upstream }) {
  const before = d.http.requests.length
  const tunnel = await connectVia(t, p.url, `127.0.0.1:${d.echo.port}`, { 'Proxy-Authorization': basic(p) })
  const echoed = tunnel.status === 200 ? (await roundTrip(tunnel.socket, 'through the tunnel')).toString() : null
  tunnel.socket.destroy()

  const forwarded = await rawRequest(p.url,
    `GET http://127.0.0.1:${d.http.port}/diff?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${d.http.port}\r\n` +
    `Proxy-Authorization: ${basic(p)}\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n` +
    'Proxy-Connection: keep-alive\r\nX-End-To-End: kept\r\n\r\n')
  const seen = d.http.requests[before]
  const hopByHop = seen === undefined
    ? null
    : ['x-hop', 'keep-alive', 'proxy-connection', 'proxy-authorization'].filter((h) => seen.headers[h] !== undefined)

  const challenged = await connectVia(t, p.url, `127.0.0.1:${d.echo.port}`)
  const challenge = challenged.headers['proxy-authenticate'] ?? ''
  challenged.socket.destroy()
  const retried = await connectVia(t, p.url, `127.0.0.1:${d.echo.port}`, { 'Proxy-Authorization': basic(p) })
  retried.socket.destroy()

  return {
    tunnel: { status: tunnel.status, echoed },
    forwarded: { status: forwarded.status, url: seen?.url ?? null, method: seen?.method ?? null, endToEnd: seen?.headers['x-end-to-end'] ?? null, hopByHop },
    auth: { first: challenged.status, offersBasic: /basic/i.test(challenge), then: retried.status },
  }
}

const EXPECTED = {
  tunnel: { status: 200, echoed: 'through the tunnel' },
  forwarded: { status: 200, url: '/diff?x=1', method: 'GET', endToEnd: 'kept', hopByHop: [] },
  auth: { first: 407, offersBasic: true, then: 200 },
}

for (const kind of ['tinyproxy', 'squid'] as const) {
  const missing = referenceMissing(kind, { auth: true })
  test(`the same client code gets the same outcomes from Gatehouse and ${kind}`, { skip: missing ?? false }, async (t) => {
    const d = await destinations(t)
    const ref = await outcomes(t, await reference(t, kind), d)
    const ours = await outcomes(t, await gatehouse(t, d), d)
    assert.deepEqual(ref, EXPECTED, `${kind} itself behaves as the test expects`)
    assert.deepEqual(ours, ref)
  })
}
