// A redirect from an upstream sends the client back through the gateway (SPEC "Sent
// back"): an absolute Location on the upstream origin, or a path under rewritePrefix,
// becomes an absolute URL on the public scheme, host and prefix. Public = the client's
// connection and Host, or X-Forwarded-Proto/Host from a trustProxy peer only.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createUpstream, type Upstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { rawRequest } from '../helpers/raw-http.ts'
import { certDir, selfSigned } from '../tls/certs.ts'
import { tlsServerConfig, trustingAgent } from '../tls/helpers.ts'

// `/x` answers a redirect to its own origin, `/v2/x` one to a path under rewritePrefix.
async function redirectingUpstream (t: TestContext): Promise<Upstream> {
  const up: Upstream = await createUpstream(t, (req, res) => {
    const location = req.url!.startsWith('/v2/') ? '/v2/items/3?tab=a' : `${up.origin}/items/42`
    res.writeHead(302, { location, 'content-length': '0' })
    res.end()
  })
  return up
}

function services (up: Upstream) {
  return [
    { name: 'loc', prefix: '/api/loc', upstreams: [up.origin] },
    { name: 'locrw', prefix: '/api/locrw', upstreams: [up.origin], rewritePrefix: '/v2' },
  ]
}

async function locationOf (url: string, opts: Parameters<typeof request>[1] = {}): Promise<string | undefined> {
  const res = await request(url, opts)
  await res.body.dump()
  assert.equal(res.statusCode, 302, 'the redirect is relayed, never followed')
  return res.headers.location as string | undefined
}

test('a redirect to the upstream origin comes back as http://<Host>/<prefix>/... to a plain-HTTP client', async (t) => {
  const up = await redirectingUpstream(t)
  const gw = await createGateway(t, baseConfig(services(up)), { listen: true })
  const host = new URL(gw.url!).host
  assert.equal(await locationOf(`${gw.url}/api/loc/x`), `http://${host}/api/loc/items/42`)
  // Raw bytes on a socket, with a Host of the client's own.
  const raw = await rawRequest(gw.url!, 'GET /api/loc/x HTTP/1.1\r\nHost: api.example.com:8080\r\nConnection: close\r\n\r\n')
  assert.equal(raw.headers.location, 'http://api.example.com:8080/api/loc/items/42')
})

test('a path-only Location under rewritePrefix becomes an absolute URL on the public scheme, host and prefix', async (t) => {
  const up = await redirectingUpstream(t)
  const gw = await createGateway(t, baseConfig(services(up)), { listen: true })
  const host = new URL(gw.url!).host
  assert.equal(await locationOf(`${gw.url}/api/locrw/x`), `http://${host}/api/locrw/items/3?tab=a`)
})

test('behind TLS a rewritten Location is https://', async (t) => {
  const cert = selfSigned(certDir(t), 'gw')
  const up = await redirectingUpstream(t)
  const gw = await createGateway(t, baseConfig(services(up), { server: tlsServerConfig(cert) }), { listen: true })
  const dispatcher = trustingAgent(t, cert.certPem)
  const host = new URL(gw.url!).host
  assert.equal(await locationOf(`${gw.url}/api/loc/x`, { dispatcher }), `https://${host}/api/loc/items/42`)
  assert.equal(await locationOf(`${gw.url}/api/locrw/x`, { dispatcher }), `https://${host}/api/locrw/items/3?tab=a`)
})

test('X-Forwarded-Proto/Host set the Location scheme and host only when the peer is in trustProxy', async (t) => {
  const up = await redirectingUpstream(t)
  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' }
  const trusting = await createGateway(t, baseConfig(services(up), { server: { trustProxy: ['127.0.0.1/32'] } }), { listen: true })
  assert.equal(await locationOf(`${trusting.url}/api/loc/x`, { headers: forwarded }), 'https://api.example.com/api/loc/items/42')
  assert.equal(await locationOf(`${trusting.url}/api/locrw/x`, { headers: forwarded }), 'https://api.example.com/api/locrw/items/3?tab=a')
  // A chain of proxies: the left-most entry is what the client used.
  assert.equal(await locationOf(`${trusting.url}/api/loc/x`, { headers: { 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'api.example.com, lb.internal' } }),
    'https://api.example.com/api/loc/items/42')

  const untrusting = await createGateway(t, baseConfig(services(up), { server: { trustProxy: ['10.0.0.0/8'] } }), { listen: true })
  const host = new URL(untrusting.url!).host
  assert.equal(await locationOf(`${untrusting.url}/api/loc/x`, { headers: forwarded }), `http://${host}/api/loc/items/42`,
    'an untrusted peer cannot choose the scheme or host clients are sent to')
})
