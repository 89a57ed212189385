import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { spawn, spawnSync } from 'node:child_process'
import { createEgressGateway, connectVia, createEchoServer, proxyBearer, readToEnd, roundTrip } from '../helpers/egress.ts'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { rawRequest } from '../helpers/raw-http.ts'
import { sign } from '../helpers/tokens.ts'
import { metricValue } from '../helpers/metrics.ts'
import { waitFor } from '../helpers/wait.ts'

const LOCAL = ['127.0.0.1/32']

function basic (user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

test('CONNECT opens a byte tunnel once the destination is open; the log line comes at its end with the bytes', async (t) => {
  const echo = await createEchoServer(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [echo.port] }], allowNetworks: LOCAL })
  const reply = await connectVia(t, gw.egressUrl, `127.0.0.1:${echo.port}`, { 'Proxy-Authorization': proxyBearer('svc-a') })
  assert.equal(reply.status, 200)
  assert.equal(echo.connections, 1)
  assert.equal((await roundTrip(reply.socket, 'ping-pong')).toString(), 'ping-pong')
  assert.equal(await metricValue(gw, 'gatehouse_egress_tunnels_active'), 1)
  reply.socket.end()
  const line = await gw.waitForLog((l) => l.egress === true && l.method === 'CONNECT')
  assert.deepEqual({ ...line, time: 0, pid: 0, hostname: '', durationMs: 0, reqId: '' }, {
    level: 30,
    time: 0,
    pid: 0,
    hostname: '',
    reqId: '',
    egress: true,
    method: 'CONNECT',
    destination: `127.0.0.1:${echo.port}`,
    consumer: 'svc-a',
    status: 200,
    durationMs: 0,
    bytesUp: 9,
    bytesDown: 9,
    clientIp: '127.0.0.1',
    msg: 'egress',
  })
  assert.equal(await metricValue(gw, 'gatehouse_egress_tunnels_active'), 0)
  assert.equal(await metricValue(gw, 'gatehouse_egress_requests_total', { destination: '127.0.0.1', method: 'CONNECT', code: '200' }), 1)
  assert.equal(await metricValue(gw, 'gatehouse_egress_bytes_total', { destination: '127.0.0.1', direction: 'up' }), 9)
  assert.equal(await metricValue(gw, 'gatehouse_egress_bytes_total', { destination: '127.0.0.1', direction: 'down' }), 9)
})

test('absolute-form GET is forwarded with hop-by-hop, Proxy-* and identifying headers removed; Authorization passes; the answer is relayed as it came', async (t) => {
  const up = await createUpstream(t, (req, res) => {
    if (req.url === '/redirect') {
      res.writeHead(302, { location: 'http://elsewhere.example/' })
      return res.end()
    }
    const body = JSON.stringify({ url: req.url, headers: req.headers })
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-upstream': 'yes', 'set-cookie': ['a=1', 'b=2'] })
    res.end(body)
  })
  const gw = await createEgressGateway(t, {
    allow: [{ host: '127.0.0.1', ports: [up.port] }], allowNetworks: LOCAL, removeHeaders: ['User-Agent'],
  })
  const res = await rawRequest(gw.egressUrl,
    `GET http://127.0.0.1:${up.port}/path?q=secret HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n` +
    `Proxy-Authorization: ${proxyBearer()}\r\nProxy-Connection: keep-alive\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\n` +
    'Keep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nVia: 1.1 inner\r\nForwarded: for=10.0.0.1\r\n' +
    'X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: in\r\nX-Real-IP: 10.0.0.1\r\nX-Request-Id: abc\r\n' +
    'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nX-Consumer-Id: me\r\n' +
    'Authorization: Bearer destination-token\r\nUser-Agent: leaky/1.0\r\nX-Kept: yes\r\n\r\n')
  assert.equal(res.status, 201)
  assert.equal(res.headers['x-upstream'], 'yes')
  const seen = JSON.parse(res.body) as { url: string, headers: Record<string, string> }
  assert.equal(seen.url, '/path?q=secret')
  const names = Object.keys(seen.headers).sort()
  assert.deepEqual(names, ['authorization', 'connection', 'host', 'x-kept'])
  assert.equal(seen.headers.authorization, 'Bearer destination-token')
  assert.equal(seen.headers.host, `127.0.0.1:${up.port}`)
  // Node's own agent speaks for this hop: nothing the client wrote in Connection.
  assert.equal(seen.headers.connection, 'keep-alive')
  assert.match(res.raw, /set-cookie: a=1\r\nset-cookie: b=2/i)

  const redirect = await rawRequest(gw.egressUrl, `GET http://127.0.0.1:${up.port}/redirect HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${proxyBearer()}\r\nConnection: close\r\n\r\n`)
  assert.equal(redirect.status, 302, 'redirects are relayed, not followed')
  assert.equal(redirect.headers.location, 'http://elsewhere.example/')
  const line = await gw.waitForLog((l) => l.egress === true && l.method === 'GET' && l.status === 201)
  assert.equal(line.destination, `127.0.0.1:${up.port}`)
  assert.doesNotMatch(JSON.stringify(gw.logs), /secret|destination-token|leaky/)
})

test('an origin-form request and a malformed CONNECT target are 400 GW_BAD_REQUEST', async (t) => {
  const gw = await createEgressGateway(t, { allow: [] })
  const origin = await rawRequest(gw.egressUrl, 'GET /path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.equal(origin.status, 400)
  assert.equal(JSON.parse(origin.body).code, 'GW_BAD_REQUEST')
  assert.match(JSON.parse(origin.body).requestId, /^[0-9a-f]{32}$/)
  for (const target of ['example.com', 'example.com:0', 'example.com:99999', 'user@example.com:443', 'a b:443', '[::1:443', 'http://example.com:443']) {
    const reply = await connectVia(t, gw.egressUrl, target, { 'Proxy-Authorization': proxyBearer() })
    assert.equal(reply.status, 400, target)
    assert.equal(JSON.parse(await readToEnd(reply)).code, 'GW_BAD_REQUEST', target)
  }
})

test('identity comes first: 407 offers Bearer and Basic before anything about the allow-list shows', async (t) => {
  const echo = await createEchoServer(t)
  const gw = await createEgressGateway(t, {
    allow: [{ host: '127.0.0.1', ports: [echo.port] }], allowNetworks: LOCAL,
  })
  const expired = sign({ sub: 'svc-a', exp: Math.floor(Date.now() / 1000) - 60 })
  const forged = sign('svc-a', { key: 'another-secret-that-is-long-enough-000' })
  for (const [what, header] of [['none', undefined], ['expired', `Bearer ${expired}`], ['forged', `Bearer ${forged}`],
    ['empty', 'Bearer '], ['other scheme', 'Digest abc'], ['basic without password', basic('svc', '')]] as const) {
    // A denied host and an allowed one answer the same to a caller without identity.
    for (const target of ['denied.example:443', `127.0.0.1:${echo.port}`]) {
      const reply = await connectVia(t, gw.egressUrl, target, header === undefined ? {} : { 'Proxy-Authorization': header })
      assert.equal(reply.status, 407, `${what} → ${target}`)
      assert.equal(reply.headers['proxy-authenticate'], 'Bearer realm="gatehouse", Basic realm="gatehouse"')
      const problem = JSON.parse(await readToEnd(reply))
      assert.equal(problem.code, 'GW_PROXY_AUTH_REQUIRED')
    }
  }
  assert.equal(echo.connections, 0)
  // Basic with the JWT as the password, any user name: what user:TOKEN@ in HTTPS_PROXY sends.
  const ok = await connectVia(t, gw.egressUrl, `127.0.0.1:${echo.port}`, { 'Proxy-Authorization': basic('anything', sign('svc-b')) })
  assert.equal(ok.status, 200)
  ok.socket.end()
  const line = await gw.waitForLog((l) => l.egress === true && l.status === 200)
  assert.equal(line.consumer, 'svc-b')
})

test('default deny: a host no entry names, or a port it does not list, is 403 GW_EGRESS_DENIED; scopes must all be held', async (t) => {
  const echo = await createEchoServer(t)
  const gw = await createEgressGateway(t, {
    allow: [
      { host: '*.partner.example', ports: [443] },
      { host: '127.0.0.1', ports: [echo.port], scopes: ['payments:write', 'audit'] },
    ],
    allowNetworks: LOCAL,
  })
  const auth = (scope: string) => ({ 'Proxy-Authorization': proxyBearer({ sub: 'svc', scope }) })
  for (const target of ['api.github.com:443', 'partner.example:443', 'a.partner.example:80', '127.0.0.1:1']) {
    const reply = await connectVia(t, gw.egressUrl, target, auth(''))
    assert.equal(reply.status, 403, target)
    assert.equal(JSON.parse(await readToEnd(reply)).code, 'GW_EGRESS_DENIED', target)
  }
  const partial = await connectVia(t, gw.egressUrl, `127.0.0.1:${echo.port}`, auth('payments:write'))
  assert.equal(partial.status, 403)
  assert.match(JSON.parse(await readToEnd(partial)).detail, /needs: payments:write audit/)
  const full = await connectVia(t, gw.egressUrl, `127.0.0.1:${echo.port}`, auth('audit payments:write'))
  assert.equal(full.status, 200)
  assert.equal(await metricValue(gw, 'gatehouse_egress_requests_total', { destination: 'denied', method: 'CONNECT', code: '403' }), 4)
  assert.equal(await metricValue(gw, 'gatehouse_egress_requests_total', { destination: '127.0.0.1', method: 'CONNECT', code: '403' }), 1)
})

test('auth: none takes no token and still never forwards Proxy-Authorization', async (t) => {
  const up = await createUpstream(t)
  const gw = await createEgressGateway(t, { auth: 'none', allow: [{ host: '127.0.0.1', ports: [up.port] }], allowNetworks: LOCAL })
  const res = await rawRequest(gw.egressUrl, `GET http://127.0.0.1:${up.port}/ HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nConnection: close\r\n\r\n`)
  assert.equal(res.status, 200)
  assert.equal(up.requests[0]!.headers['proxy-authorization'], undefined)
})

test('a destination that refuses, or a name that does not resolve, is 502 GW_BAD_GATEWAY', async (t) => {
  const refused = await closedPort()
  const gw = await createEgressGateway(t, {
    allow: [{ host: '127.0.0.1', ports: [refused] }, { host: 'nowhere.test', ports: [443] }],
    allowNetworks: LOCAL,
  }, {
    lookup: async () => { throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }) },
  })
  const auth = { 'Proxy-Authorization': proxyBearer() }
  for (const target of [`127.0.0.1:${refused}`, 'nowhere.test:443']) {
    const reply = await connectVia(t, gw.egressUrl, target, auth)
    assert.equal(reply.status, 502, target)
    const problem = JSON.parse(await readToEnd(reply))
    assert.equal(problem.code, 'GW_BAD_GATEWAY')
    assert.doesNotMatch(problem.detail, /127\.0\.0\.1|ENOTFOUND/)
  }
  await waitFor('both refusals logged', () => gw.logs.filter((l) => l.egress === true && l.status === 502).length === 2)
})

// A listener that never accepts: once its accept queue is full the kernel drops further
// SYNs, so a connect to it hangs until the gateway's own timer gives up.
const PY_NEVER_ACCEPTS = 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()'
const pythonMissing = spawnSync('python3', ['--version']).error === undefined ? false : 'needs python3 (a listener that never accepts): apt-get install python3'

test('a destination slower to accept than timeouts.connect is 504 GW_UPSTREAM_TIMEOUT', { skip: pythonMissing }, async (t) => {
  const py = spawn('python3', ['-c', PY_NEVER_ACCEPTS], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.after(() => { py.kill('SIGKILL') })
  const [line] = await once(py.stdout!, 'data') as [Buffer]
  const port = Number(line.toString().trim())
  // Fill the accept queue: connect until one connect stays pending (bounded).
  const fillers: net.Socket[] = []
  t.after(() => { for (const s of fillers) s.destroy() })
  for (let i = 0; i < 10; i++) {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => {})
    fillers.push(s)
    const connected = await Promise.race([once(s, 'connect').then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, 300, false))])
    if (!connected) break
  }
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [port] }], allowNetworks: LOCAL, timeouts: { connect: '300ms' } })
  const started = Date.now()
  const reply = await connectVia(t, gw.egressUrl, `127.0.0.1:${port}`, { 'Proxy-Authorization': proxyBearer() })
  assert.equal(reply.status, 504)
  assert.equal(JSON.parse(await readToEnd(reply)).code, 'GW_UPSTREAM_TIMEOUT')
  assert.ok(Date.now() - started >= 250, 'answered by the connect timer, not by a refusal')
})

test('absolute-form POST streams its body to the destination and the answer back, counted both ways', async (t) => {
  const up = await createUpstream(t, (req, res, body) => {
    const text = `got ${body.length} ${req.headers['transfer-encoding'] ?? req.headers['content-length']}`
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': text.length })
    res.end(text)
  })
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [up.port] }], allowNetworks: LOCAL })
  const payload = 'x'.repeat(100_000)
  const res = await rawRequest(gw.egressUrl, `POST http://127.0.0.1:${up.port}/upload HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n` +
    `Proxy-Authorization: ${proxyBearer()}\r\nContent-Type: text/plain\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n${payload}`)
  assert.equal(res.status, 200)
  assert.equal(res.body, `got ${payload.length} ${payload.length}`)
  const line = await gw.waitForLog((l) => l.egress === true && l.method === 'POST')
  assert.equal(line.bytesUp, payload.length)
  assert.equal(line.bytesDown, `got ${payload.length} ${payload.length}`.length)
})

test('an absolute-form destination silent past timeouts.idle is 504 GW_UPSTREAM_TIMEOUT, and its request is given up', async (t) => {
  let closed!: () => void
  const gaveUp = new Promise<void>((resolve) => { closed = resolve })
  const up = await createUpstream(t, (req) => { req.socket.once('close', () => closed()) })
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [up.port] }], allowNetworks: LOCAL, timeouts: { idle: '300ms' } })
  const res = await rawRequest(gw.egressUrl, `GET http://127.0.0.1:${up.port}/slow HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${proxyBearer()}\r\nConnection: close\r\n\r\n`)
  assert.equal(res.status, 504)
  assert.equal(JSON.parse(res.body).code, 'GW_UPSTREAM_TIMEOUT')
  await gaveUp
})
