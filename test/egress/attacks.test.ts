// The attacks the egress port stops (docs/security.md's egress table names these tests).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createEgressGateway, connectVia, createEchoServer, proxyBearer, readToEnd, roundTrip } from '../helpers/egress.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { rawRequest } from '../helpers/raw-http.ts'
import { metricValue } from '../helpers/metrics.ts'
import { REDIS_URL, redisSkipReason } from '../helpers/redis.ts'
import type { EgressLookup } from '../../plugins/egress/index.ts'

const AUTH = { 'Proxy-Authorization': proxyBearer('svc-a') }

// Every way of writing 127.0.0.1 (and the metadata address) that a URL parser accepts.
const LOOPBACK_SPELLINGS = ['127.0.0.1', '127.1', '127.0.1', '2130706433', '0x7f000001', '0x7f.1', '0177.0.0.1', '0177.1',
  '127.0.0.%31', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:7f00:1]', '127.0.0.1.']
const METADATA_SPELLINGS = ['169.254.169.254', '2852039166', '0xa9fea9fe', '0251.0376.0251.0376', '169.254.43518', '[::ffff:169.254.169.254]', '[::ffff:a9fe:a9fe]']

function staticLookup (table: Record<string, string[]>): EgressLookup & { calls: string[] } {
  const calls: string[] = []
  const lookup = async (name: string) => {
    calls.push(name)
    const found = table[name]
    if (found === undefined) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
  return Object.assign(lookup, { calls })
}

test('SSRF to loopback and the metadata address by every IP spelling is 403 GW_EGRESS_PRIVATE_ADDRESS', async (t) => {
  const echo = await createEchoServer(t)
  const up = await createUpstream(t)
  const lookup = staticLookup({ 'metadata.partner.example': ['169.254.169.254'], 'v6.partner.example': ['::1'], 'mapped.partner.example': ['::ffff:127.0.0.1'] })
  const gw = await createEgressGateway(t, {
    allow: [
      { host: '127.0.0.1', ports: [echo.port, up.port] },
      { host: '169.254.169.254', ports: [80] },
      { host: '::1', ports: [echo.port] },
      { host: '*.partner.example', ports: [80] },
    ],
  }, { lookup })
  for (const host of LOOPBACK_SPELLINGS) {
    const reply = await connectVia(t, gw.egressUrl, `${host}:${echo.port}`, AUTH)
    assert.equal(reply.status, 403, host)
    assert.equal(JSON.parse(await readToEnd(reply)).code, 'GW_EGRESS_PRIVATE_ADDRESS', host)
    const res = await rawRequest(gw.egressUrl, `GET http://${host}:${up.port}/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${AUTH['Proxy-Authorization']}\r\nConnection: close\r\n\r\n`)
    assert.equal(res.status, 403, `absolute-form ${host}`)
    assert.equal(JSON.parse(res.body).code, 'GW_EGRESS_PRIVATE_ADDRESS', host)
  }
  for (const host of [...METADATA_SPELLINGS, 'metadata.partner.example', 'mapped.partner.example', 'v6.partner.example']) {
    const reply = await connectVia(t, gw.egressUrl, `${host}:80`, AUTH)
    assert.equal(reply.status, 403, host)
    assert.equal(JSON.parse(await readToEnd(reply)).code, 'GW_EGRESS_PRIVATE_ADDRESS', host)
  }
  const v6 = await connectVia(t, gw.egressUrl, `[::1]:${echo.port}`, AUTH)
  assert.equal(v6.status, 403)
  assert.equal(echo.connections, 0)
  assert.equal(up.requests.length, 0)
})

test('IP spellings are matched in canonical form: with loopback exempted, every spelling of 127.0.0.1 is the 127.0.0.1 entry', async (t) => {
  const echo = await createEchoServer(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [echo.port] }], allowNetworks: ['127.0.0.1/32'] })
  for (const host of LOOPBACK_SPELLINGS) {
    const reply = await connectVia(t, gw.egressUrl, `${host}:${echo.port}`, AUTH)
    assert.equal(reply.status, 200, host)
    assert.equal((await roundTrip(reply.socket, host)).toString(), host)
    reply.socket.destroy()
  }
  assert.equal(await metricValue(gw, 'gatehouse_egress_requests_total', { destination: '127.0.0.1', method: 'CONNECT', code: '200' }), LOOPBACK_SPELLINGS.length)
})

test('a name that resolves to both a public and a private address is refused', async (t) => {
  const echo = await createEchoServer(t)
  // 127.0.0.1 stands in for the public address (exempted); 10.1.2.3 is the private one.
  const lookup = staticLookup({ 'mixed.partner.example': ['127.0.0.1', '10.1.2.3'], 'mixed6.partner.example': ['127.0.0.1', 'fd00::1'] })
  const gw = await createEgressGateway(t, { allow: [{ host: '*.partner.example', ports: [echo.port] }], allowNetworks: ['127.0.0.1/32'] }, { lookup })
  for (const name of ['mixed.partner.example', 'mixed6.partner.example']) {
    const reply = await connectVia(t, gw.egressUrl, `${name}:${echo.port}`, AUTH)
    assert.equal(reply.status, 403, name)
    const problem = JSON.parse(await readToEnd(reply))
    assert.equal(problem.code, 'GW_EGRESS_PRIVATE_ADDRESS')
    assert.doesNotMatch(problem.detail, /10\.1\.2\.3|fd00/)
  }
  assert.equal(echo.connections, 0)
})

test('DNS rebinding between check and connect gains nothing: the name is resolved once and the checked address is dialled', async (t) => {
  const echo = await createEchoServer(t)
  const up = await createUpstream(t)
  // The first answer passes the check; every later one points at the metadata address.
  const calls: string[] = []
  let answered = 0
  const lookup: EgressLookup = async (name) => {
    calls.push(name)
    return [{ address: ++answered === 1 ? '127.0.0.1' : '169.254.169.254', family: 4 }]
  }
  const gw = await createEgressGateway(t, { allow: [{ host: 'rebind.partner.example', ports: [echo.port, up.port] }], allowNetworks: ['127.0.0.1/32'] }, { lookup })
  const reply = await connectVia(t, gw.egressUrl, `rebind.partner.example:${echo.port}`, AUTH)
  assert.equal(reply.status, 200)
  assert.equal((await roundTrip(reply.socket, 'reached')).toString(), 'reached')
  assert.deepEqual(calls, ['rebind.partner.example'])
  assert.equal(echo.connections, 1)

  calls.length = 0
  const res = await rawRequest(gw.egressUrl, `GET http://rebind.partner.example:${up.port}/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${AUTH['Proxy-Authorization']}\r\nConnection: close\r\n\r\n`)
  assert.equal(res.status, 403, 'the second lookup answers the metadata address: refused, never dialled')
  assert.equal(calls.length, 1)
  assert.equal(up.requests.length, 0)
})

test('CONNECT to an allowed host on a non-allowed port is 403 GW_EGRESS_DENIED', async (t) => {
  const allowed = await createEchoServer(t)
  const other = await createEchoServer(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [allowed.port] }], allowNetworks: ['127.0.0.1/32'] })
  for (const port of [other.port, 22, 6379, 443]) {
    const reply = await connectVia(t, gw.egressUrl, `127.0.0.1:${port}`, AUTH)
    assert.equal(reply.status, 403, String(port))
    assert.equal(JSON.parse(await readToEnd(reply)).code, 'GW_EGRESS_DENIED')
  }
  assert.equal(other.connections, 0)
  // Entries without ports take 80 and 443 only.
  const gw2 = await createEgressGateway(t, { allow: [{ host: '127.0.0.1' }], allowNetworks: ['127.0.0.1/32'] })
  const reply = await connectVia(t, gw2.egressUrl, `127.0.0.1:${other.port}`, AUTH)
  assert.equal(reply.status, 403)
})

test('an absolute-form request whose Host header disagrees with its URL: the URL is checked and wins', async (t) => {
  const allowed = await createUpstream(t)
  const other = await createUpstream(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [allowed.port] }], allowNetworks: ['127.0.0.1/32'] })
  const pa = `Proxy-Authorization: ${AUTH['Proxy-Authorization']}\r\n`
  const denied = await rawRequest(gw.egressUrl, `GET http://127.0.0.1:${other.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${allowed.port}\r\n${pa}Connection: close\r\n\r\n`)
  assert.equal(denied.status, 403)
  assert.equal(other.requests.length + allowed.requests.length, 0)
  const ok = await rawRequest(gw.egressUrl, `GET http://127.0.0.1:${allowed.port}/x HTTP/1.1\r\nHost: metadata.google.internal\r\n${pa}Connection: close\r\n\r\n`)
  assert.equal(ok.status, 200)
  assert.equal(allowed.requests[0]!.headers.host, `127.0.0.1:${allowed.port}`)
  assert.equal(allowed.requests[0]!.rawHeaders.filter((h) => h.toLowerCase() === 'host').length, 1)
})

test('header smuggling through Proxy-Connection: it and every header it names stay at the proxy', async (t) => {
  const up = await createUpstream(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [up.port] }], allowNetworks: ['127.0.0.1/32'] })
  const pa = `Proxy-Authorization: ${AUTH['Proxy-Authorization']}\r\n`
  // Two requests on one keep-alive connection: the first's Proxy-Connection must neither
  // reach the destination nor change how the second is framed or forwarded.
  const res = await rawRequest(gw.egressUrl,
    `GET http://127.0.0.1:${up.port}/one HTTP/1.1\r\nHost: x\r\n${pa}Proxy-Connection: keep-alive, X-Smuggled, Authorization\r\n` +
    'X-Smuggled: internal-token\r\nAuthorization: Bearer only-for-the-proxy-hop\r\nProxy-Authenticate: x\r\nProxy-Foo: y\r\n\r\n' +
    `GET http://127.0.0.1:${up.port}/two HTTP/1.1\r\nHost: x\r\n${pa}Connection: close\r\n\r\n`)
  assert.equal(res.status, 200)
  assert.deepEqual(up.requests.map((r) => r.url), ['/one', '/two'])
  for (const r of up.requests) {
    for (const name of Object.keys(r.headers)) assert.doesNotMatch(name, /^proxy-|^x-smuggled$/, `${r.url}: ${name}`)
  }
  assert.equal(up.requests[0]!.headers.authorization, undefined, 'named in Proxy-Connection: hop-by-hop')
})

test('a tunnel held silent past idle is cut and logged', async (t) => {
  const echo = await createEchoServer(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [echo.port] }], allowNetworks: ['127.0.0.1/32'], timeouts: { idle: '300ms' } })
  const reply = await connectVia(t, gw.egressUrl, `127.0.0.1:${echo.port}`, AUTH)
  assert.equal(reply.status, 200)
  // Bytes keep it open...
  let lastByte = 0
  for (let i = 0; i < 4; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 150))
    await roundTrip(reply.socket, 'tick')
    lastByte = Date.now()
  }
  // ...silence closes it.
  reply.socket.removeAllListeners('close')
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the silent tunnel is still open after 3 s')), 3000)
    reply.socket.once('close', () => { clearTimeout(timer); resolve() })
  })
  assert.ok(Date.now() - lastByte >= 250, `closed ${Date.now() - lastByte} ms after the last byte, not before idle`)
  const line = await gw.waitForLog((l) => l.egress === true && l.method === 'CONNECT')
  assert.equal(line.bytesUp, 16)
  assert.equal(await metricValue(gw, 'gatehouse_egress_tunnels_active'), 0)
  assert.equal(echo.sockets.size, 0)
})

async function burst (t: Parameters<typeof createEgressGateway>[0], egressUrl: string, target: string, count: number, auth: Record<string, string>) {
  const statuses = new Map<number, number>()
  let retryAfter = ''
  for (let i = 0; i < count; i += 50) {
    const replies = await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => connectVia(t, egressUrl, target, auth)))
    for (const r of replies) {
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
      if (r.status === 429) retryAfter = r.headers['retry-after'] ?? ''
      r.socket.destroy()
    }
  }
  return { statuses, retryAfter }
}

test('1,000 CONNECTs from one consumer against rateLimit: the budget holds, then 429 with Retry-After; another consumer is untouched', async (t) => {
  const echo = await createEchoServer(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [echo.port] }], allowNetworks: ['127.0.0.1/32'], rateLimit: { max: 100, window: '1m' } })
  const { statuses, retryAfter } = await burst(t, gw.egressUrl, `127.0.0.1:${echo.port}`, 1000, AUTH)
  assert.deepEqual(Object.fromEntries(statuses), { 200: 100, 429: 900 })
  assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= 60, retryAfter)
  const other = await connectVia(t, gw.egressUrl, `127.0.0.1:${echo.port}`, { 'Proxy-Authorization': proxyBearer('svc-b') })
  assert.equal(other.status, 200)
  assert.equal(await metricValue(gw, 'gatehouse_egress_requests_total', { destination: '127.0.0.1', method: 'CONNECT', code: '429' }), 900)
})

test('egress.rateLimit counts on the shared Redis store', { skip: redisSkipReason ?? false }, async (t) => {
  const echo = await createEchoServer(t)
  const keyPrefix = `gatehouse:test:${randomBytes(6).toString('hex')}:`
  const config = { allow: [{ host: '127.0.0.1', ports: [echo.port] }], allowNetworks: ['127.0.0.1/32'], rateLimit: { max: 5, window: '1m' } }
  const extra = { rateLimit: { store: 'redis', redis: { url: REDIS_URL, keyPrefix } } }
  const a = await createEgressGateway(t, config, { extra })
  const b = await createEgressGateway(t, config, { extra })
  const first = await burst(t, a.egressUrl, `127.0.0.1:${echo.port}`, 3, AUTH)
  const second = await burst(t, b.egressUrl, `127.0.0.1:${echo.port}`, 4, AUTH)
  assert.deepEqual(Object.fromEntries(first.statuses), { 200: 3 })
  assert.deepEqual(Object.fromEntries(second.statuses), { 200: 2, 429: 2 }, 'two instances share one budget')
})
