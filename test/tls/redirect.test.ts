import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { rawRequest } from '../helpers/raw-http.ts'
import { redirectLocation, safeHost } from '../../apps/gateway/tls/redirect.ts'
import type { IncomingMessage } from 'node:http'
import { certDir, selfSigned } from './certs.ts'
import { tlsServerConfig, trustingAgent } from './helpers.ts'

async function redirectingGateway (t: import('node:test').TestContext) {
  const cert = selfSigned(certDir(t), 'gw')
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { server: tlsServerConfig(cert, { http2: true, httpRedirect: { port: 0 } }) }), { listen: true })
  return { gw, up, cert, tlsPort: Number(new URL(gw.url!).port), redirectUrl: gw.listening!.redirectUrl! }
}

test('httpRedirect: the plain-HTTP listener answers 308 to https://<host>:<tls port><path and query>, keeping the method', async (t) => {
  const { gw, up, cert, tlsPort, redirectUrl } = await redirectingGateway(t)
  assert.match(redirectUrl, /^http:\/\//)

  const get = await request(`${redirectUrl}/api/users/7?x=1&y=%2F`, { headers: { host: 'api.example.com:8080' } })
  assert.equal(get.statusCode, 308)
  assert.equal(get.headers.location, `https://api.example.com:${tlsPort}/api/users/7?x=1&y=%2F`)
  await get.body.dump()

  const post = await request(`${redirectUrl}/api/users`, { method: 'POST', body: 'payload', headers: { host: 'api.example.com' } })
  assert.equal(post.statusCode, 308, '308, not 301: the client repeats the POST with its body')
  assert.equal(post.headers.location, `https://api.example.com:${tlsPort}/api/users`)
  await post.body.dump()
  assert.equal(up.requests.length, 0, 'the redirect listener never proxies')

  // Following the Location (to the listener's own address) reaches the service over TLS.
  const follow = await request(`${redirectUrl}/api/users/1`)
  const location = String(follow.headers.location)
  await follow.body.dump()
  assert.equal(location, `https://127.0.0.1:${tlsPort}/api/users/1`)
  const res = await request(location, { dispatcher: trustingAgent(t, cert.certPem) })
  assert.equal(res.statusCode, 200)
  await res.body.dump()
  assert.equal(up.requests[0]!.headers['x-forwarded-proto'], 'https')
  assert.equal(gw.listening!.redirectServer!.listening, true)
})

test('httpRedirect: a hostile Host is never reflected; the Location falls back to the listen address', async (t) => {
  const { tlsPort, redirectUrl } = await redirectingGateway(t)
  const hostile = [
    'evil.example/@x', // a path in Host
    'user@evil.example', // credentials
    'evil.example:443:1', // two ports
    'evil example', // space
    '-evil.example', // not a host name
    'evil.example:99999x',
    '[::1', // broken IPv6 literal
  ]
  let redirected = 0
  for (const host of hostile) {
    const res = await rawRequest(redirectUrl, `GET /api/users/1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    if (res.status === 400) continue // Node's parser refused it: nothing reflected either
    redirected++
    assert.equal(res.status, 308, host)
    assert.equal(res.headers.location, `https://127.0.0.1:${tlsPort}/api/users/1`, `Host ${JSON.stringify(host)} is not reflected`)
  }
  assert.equal(redirected, hostile.length, 'every hostile Host reached the redirect code')
  const noHost = await rawRequest(redirectUrl, 'GET /p HTTP/1.0\r\n\r\n')
  assert.equal(noHost.status, 308)
  assert.equal(noHost.headers.location, `https://127.0.0.1:${tlsPort}/p`)
  // An absolute-form target only contributes its path: its authority is not the client's to pick.
  const absolute = await rawRequest(redirectUrl, 'GET http://evil.example/steal?q=1 HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n')
  assert.equal(absolute.status, 308)
  assert.equal(absolute.headers.location, `https://api.example.com:${tlsPort}/steal?q=1`)
})

test('redirectLocation: IPv6 literals, port 443 omitted, configured host used when the Host is unusable', () => {
  const req = (host: string | undefined, url = '/a?b=1', localAddress = '10.0.0.5') =>
    ({ headers: host === undefined ? {} : { host }, url, socket: { localAddress } }) as unknown as IncomingMessage
  assert.equal(redirectLocation(req('[2001:db8::1]:8080'), { configuredHost: '0.0.0.0', tlsPort: () => 443 }), 'https://[2001:db8::1]/a?b=1')
  assert.equal(redirectLocation(req('bad host'), { configuredHost: 'api.internal', tlsPort: () => 8443 }), 'https://api.internal:8443/a?b=1')
  assert.equal(redirectLocation(req(undefined), { configuredHost: '::', tlsPort: () => 8443 }), 'https://10.0.0.5:8443/a?b=1')
  assert.equal(redirectLocation(req(undefined, '/', '::ffff:192.0.2.1'), { configuredHost: '0.0.0.0', tlsPort: () => 8443 }), 'https://192.0.2.1:8443/')
  assert.equal(safeHost('API.Example.com.'), 'API.Example.com.')
  assert.equal(safeHost('[fe80::1%25eth0]'), null)
})
