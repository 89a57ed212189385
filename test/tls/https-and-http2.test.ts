import { test } from 'node:test'
import assert from 'node:assert/strict'
import tls from 'node:tls'
import net from 'node:net'
import http2 from 'node:http2'
import { once } from 'node:events'
import { request } from 'undici'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { certDir, selfSigned } from './certs.ts'
import { h2Request, tlsServerConfig, trustingAgent } from './helpers.ts'

function echoed (body: string): { headers: Record<string, string>, url: string, method: string, bodyLength: number } {
  return JSON.parse(body)
}

test('http2: a node:http2 client negotiates h2 by ALPN and is proxied with X-Forwarded-Proto https and X-Forwarded-Host from :authority', async (t) => {
  const cert = selfSigned(certDir(t), 'gw')
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { server: tlsServerConfig(cert, { http2: true }) }), { listen: true })
  assert.match(gw.url!, /^https:\/\//)
  const authority = new URL(gw.url!).host

  const res = await h2Request(gw.url!, cert.certPem, { ':method': 'GET', ':path': '/api/users/7?x=1', 'x-consumer-id': 'spoofed' })
  assert.equal(res.alpn, 'h2')
  assert.equal(res.status, 200)
  assert.ok(res.headers['x-request-id'])
  assert.equal(res.headers.server, undefined)
  const seen = echoed(res.body)
  assert.equal(seen.url, '/7?x=1')
  assert.equal(seen.headers['x-forwarded-proto'], 'https')
  assert.equal(seen.headers['x-forwarded-host'], authority)
  assert.equal(seen.headers['x-forwarded-prefix'], '/api/users')
  assert.equal(seen.headers.host, new URL(up.origin).host, 'the upstream gets its own Host')
  assert.equal(seen.headers['x-consumer-id'], undefined, 'identity headers from the client are dropped over h2 too')
  for (const name of Object.keys(seen.headers)) assert.ok(!name.startsWith(':'), `no pseudo-header ${name} upstream`)
})

test('http2: a POST body streams upstream, a Location on the upstream is rewritten to https://<:authority>, gateway errors are problem+json', async (t) => {
  const cert = selfSigned(certDir(t), 'gw')
  const up = await createUpstream(t, (req, res, body) => {
    if (req.url === '/moved') {
      res.writeHead(302, { location: `http://${req.headers.host}/elsewhere?q=1` })
      res.end()
      return
    }
    res.writeHead(201, { 'content-type': 'text/plain' })
    res.end(`got ${body.length} bytes: ${body.toString()}`)
  })
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { server: tlsServerConfig(cert, { http2: true }) }), { listen: true })
  const authority = new URL(gw.url!).host

  const posted = await h2Request(gw.url!, cert.certPem, { ':method': 'POST', ':path': '/api/users', 'content-type': 'text/plain' }, 'hello h2')
  assert.equal(posted.status, 201)
  assert.equal(posted.body, 'got 8 bytes: hello h2')

  const moved = await h2Request(gw.url!, cert.certPem, { ':method': 'GET', ':path': '/api/users/moved' })
  assert.equal(moved.status, 302)
  assert.equal(moved.headers.location, `https://${authority}/api/users/elsewhere?q=1`)

  const oversized = await h2Request(gw.url!, cert.certPem, { ':method': 'GET', ':path': '/api/users/big', 'x-big': 'a'.repeat(17000) })
  assert.equal(oversized.status, 431, 'the 16 KiB header limit holds over HTTP/2 too')
  assert.equal(JSON.parse(oversized.body).code, 'GW_HEADERS_TOO_LARGE', 'answered by the gateway, not the upstream')
  const fits = await h2Request(gw.url!, cert.certPem, { ':method': 'GET', ':path': '/api/users/fits', 'x-big': 'a'.repeat(15000) })
  assert.equal(fits.status, 201)

  const missing = await h2Request(gw.url!, cert.certPem, { ':method': 'GET', ':path': '/nothing-here' })
  assert.equal(missing.status, 404)
  assert.match(String(missing.headers['content-type']), /^application\/problem\+json/)
  assert.equal(JSON.parse(missing.body).code, 'GW_NOT_FOUND')
})

test('http2: the same TLS port serves HTTP/1.1 to a client that offers only http/1.1 (ALPN fallback)', async (t) => {
  const cert = selfSigned(certDir(t), 'gw')
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { server: tlsServerConfig(cert, { http2: true }) }), { listen: true })

  const { hostname, port } = new URL(gw.url!)
  const socket = tls.connect({ host: hostname, port: Number(port), ca: cert.certPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] })
  await new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject) })
  assert.equal(socket.alpnProtocol, 'http/1.1')
  // A connection that never sent a request would hold the drain at shutdown until timeouts.drain.
  socket.destroy()

  // undici speaks HTTP/1.1 only (no h2 offered): the same listener answers it.
  const res = await request(`${gw.url}/api/users/1`, { dispatcher: trustingAgent(t, cert.certPem) })
  assert.equal(res.statusCode, 200)
  const seen = echoed(await res.body.text())
  assert.equal(seen.headers['x-forwarded-proto'], 'https')
  assert.equal(seen.headers['x-forwarded-host'], new URL(gw.url!).host)
})

test('https without http2: HTTP/1.1 over TLS, request.protocol is https (Location rewritten to https)', async (t) => {
  const cert = selfSigned(certDir(t), 'gw')
  const up = await createUpstream(t, (req, res) => {
    res.writeHead(301, { location: `http://${req.headers.host}/next` })
    res.end()
  })
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { server: tlsServerConfig(cert) }), { listen: true })
  assert.match(gw.url!, /^https:\/\//)
  const res = await request(`${gw.url}/api/users/old`, { dispatcher: trustingAgent(t, cert.certPem) })
  assert.equal(res.statusCode, 301)
  assert.equal(res.headers.location, `https://${new URL(gw.url!).host}/api/users/next`)
  await res.body.dump()
  assert.equal(up.requests[0]!.headers['x-forwarded-proto'], 'https')

  // A plain-HTTP request to the TLS port is not served.
  await assert.rejects(request(`${gw.url!.replace('https:', 'http:')}/api/users/old`))
})

test('TLS port keeps the edge limits: headers not finished within timeouts.headers get 408 over TLS, past maxConnections a connection is closed at once', async (t) => {
  const cert = selfSigned(certDir(t), 'gw')
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { server: tlsServerConfig(cert, { http2: true, maxConnections: 1, timeouts: { headers: '300ms' } }) }), { listen: true })
  const { hostname, port } = new URL(gw.url!)
  const connect = () => tls.connect({ host: hostname, port: Number(port), ca: cert.certPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] })

  const slow = connect()
  t.after(() => slow.destroy())
  await new Promise<void>((resolve, reject) => { slow.once('secureConnect', () => resolve()); slow.once('error', reject) })
  // Second connection while the first is open: refused at once (no handshake completes).
  const extra = connect()
  const refused = await new Promise<string>((resolve) => {
    extra.once('secureConnect', () => resolve('handshake completed'))
    extra.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    extra.once('close', () => resolve('closed'))
  })
  assert.notEqual(refused, 'handshake completed')
  extra.destroy()

  slow.write('GET /api/users/1 HTTP/1.1\r\nHost: localhost\r\n')
  let answer = ''
  slow.setEncoding('utf8')
  slow.on('data', (d: string) => { answer += d })
  await new Promise((resolve) => slow.once('close', resolve))
  assert.match(answer, /^HTTP\/1\.1 408 /)
  assert.match(answer, /GW_REQUEST_TIMEOUT/)
  assert.equal(up.requests.length, 0)
})

test('TLS port: a connection that never completes its handshake is closed after timeouts.headers; an idle HTTP/2 session gets a GOAWAY after timeouts.keepAlive', async (t) => {
  const cert = selfSigned(certDir(t), 'gw')
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { server: tlsServerConfig(cert, { http2: true, timeouts: { headers: '300ms', keepAlive: '300ms' } }) }), { listen: true })
  const { hostname, port } = new URL(gw.url!)

  const silent = net.connect(Number(port), hostname)
  silent.on('error', () => {})
  const started = Date.now()
  await once(silent, 'close')
  assert.ok(Date.now() - started >= 250, 'closed by the handshake timeout, not at once')

  const session = http2.connect(gw.url!, { ca: cert.certPem })
  t.after(() => session.destroy())
  const goaway = once(session, 'goaway')
  const stream = session.request({ ':path': '/api/users/1' })
  stream.resume()
  await once(stream, 'close')
  await goaway
  assert.equal(up.requests.length, 1)
})
