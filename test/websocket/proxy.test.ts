import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { createSigner } from 'fast-jwt'
import type { Gateway } from '../../apps/gateway/app.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { createWsUpstream } from './ws-upstream.ts'
import { openClient, upgradeRequest } from './ws-client.ts'

const SECRET = 'websocket-tests-secret-0123456789abcdef'
const token = (sub: string, scope = 'chat') => createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 60_000 })({ sub, scope })
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

function wsUrl (httpUrl: string, path: string): string {
  return httpUrl.replace(/^http/, 'ws') + path
}

async function gauge (gateway: Gateway, service: string): Promise<number> {
  const m = await gateway.ctx.metrics.websocketConnections.get()
  return m.values.find((v) => v.labels.service === service)?.value ?? 0
}

// Bounded poll for state only the gateway sees (the tunnel ends after the client's close event).
async function until (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function chatConfig (upstream: string, extra: Record<string, unknown> = {}, gatewayExtra: Record<string, unknown> = {}) {
  return baseConfig([{ name: 'chat', prefix: '/api/chat', upstreams: [upstream], websocket: true, auth: 'required', scopes: ['chat'], ...extra }],
    { auth: { jwt: { secret: SECRET } }, logging: { level: 'info', access: true }, ...gatewayExtra })
}

test('websocket echo through the gateway with a valid token: messages both ways, the upstream\'s subprotocol, forwarded headers, close code propagated', async (t) => {
  const up = await createWsUpstream(t, { chooseProtocol: (offered) => offered.includes('chat.v1') ? 'chat.v1' : undefined })
  const gw = await createGateway(t, chatConfig(up.origin, { rewritePrefix: '/ws' }), { listen: true })
  const peerP = up.nextPeer()
  const client = await openClient(t, wsUrl(gw.url!, '/api/chat/room/1?x=1'), {
    protocols: ['chat.v2', 'chat.v1'],
    headers: { authorization: `Bearer ${token('alice')}`, 'x-consumer-id': 'mallory', traceparent: TRACEPARENT },
  })
  const peer = await peerP
  assert.equal(client.ws.protocol, 'chat.v1', 'the subprotocol the upstream chose reaches the client')

  const hs = peer.request
  assert.equal(hs.url, '/ws/room/1?x=1')
  assert.equal(hs.headers['sec-websocket-protocol'], 'chat.v2, chat.v1', 'every offered subprotocol is forwarded')
  assert.equal(hs.headers.upgrade, 'websocket')
  assert.match(String(hs.headers.connection), /upgrade/i)
  assert.equal(hs.headers.host, new URL(up.origin).host)
  assert.match(String(hs.headers.authorization), /^Bearer /, 'Authorization is forwarded (forwardAuthorization default)')
  assert.equal(hs.headers['x-consumer-id'], 'alice', 'the gateway asserts the identity; the client\'s own is dropped')
  assert.equal(hs.headers['x-consumer-scopes'], 'chat')
  assert.match(String(hs.headers['x-request-id']), /^[A-Za-z0-9._:-]+$/)
  assert.match(String(hs.headers.traceparent), /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
  assert.equal(hs.headers['x-forwarded-for'], '127.0.0.1')
  assert.equal(hs.headers['x-forwarded-proto'], 'http')
  assert.equal(hs.headers['x-forwarded-host'], new URL(gw.url!).host)
  assert.equal(hs.headers['x-forwarded-prefix'], '/api/chat')

  // client -> upstream -> (echo) -> client, text and binary
  client.ws.send('hello')
  assert.equal(await client.nextMessage(), 'hello')
  client.ws.send(new Uint8Array([1, 2, 3, 250]))
  assert.deepEqual(await client.nextMessage(), Buffer.from([1, 2, 3, 250]))
  // a large message crosses in many TCP chunks
  const big = 'x'.repeat(200_000)
  client.ws.send(big)
  assert.equal(await client.nextMessage(), big)
  // upstream -> client on its own
  peer.send('pushed by the upstream')
  assert.equal(await client.nextMessage(), 'pushed by the upstream')
  assert.deepEqual(peer.received.slice(0, 2), ['hello', Buffer.from([1, 2, 3, 250])])
  // The HTTP exchange ended with the 101: logged while the tunnel is still open.
  await until(() => gw.logs.some((l) => l.msg === 'request' && l.status === 101), 'the access log line')

  client.ws.close(4001, 'bye')
  assert.deepEqual(await peer.closed, { code: 4001, reason: 'bye' }, 'the client\'s close code reaches the upstream')
  const closed = await client.closed
  assert.equal(closed.code, 4001)
  assert.equal(closed.wasClean, true)

  const line = gw.logs.find((l) => l.msg === 'request' && l.status === 101)!
  assert.equal(line.service, 'chat')
  assert.equal(line.consumer, 'alice')
  assert.equal(line.upstream, up.origin)
})

test('an upstream close propagates its code to the client; gatehouse_websocket_connections goes up then down', async (t) => {
  const up = await createWsUpstream(t)
  const gw = await createGateway(t, chatConfig(up.origin), { listen: true })
  assert.equal(await gauge(gw.gateway, 'chat'), 0)
  const peers = [up.nextPeer(), up.nextPeer()]
  const a = await openClient(t, wsUrl(gw.url!, '/api/chat'), { headers: { authorization: `Bearer ${token('alice')}` } })
  const b = await openClient(t, wsUrl(gw.url!, '/api/chat/2'), { headers: { authorization: `Bearer ${token('bob')}` } })
  const [pa, pb] = await Promise.all(peers)
  assert.equal(await gauge(gw.gateway, 'chat'), 2)
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text()
  assert.match(text, /gatehouse_websocket_connections\{service="chat"\} 2/)

  pa!.close(4002, 'server bye')
  const closed = await a.closed
  assert.equal(closed.code, 4002)
  assert.equal(closed.reason, 'server bye')
  await until(async () => await gauge(gw.gateway, 'chat') === 1, 'one tunnel left')

  b.ws.close(1000, 'done')
  assert.deepEqual(await pb!.closed, { code: 1000, reason: 'done' })
  await until(async () => await gauge(gw.gateway, 'chat') === 0, 'no tunnel left')
})

test('an upgrade without a token, or with an invalid one, is answered 401 and never reaches the upstream', async (t) => {
  const up = await createWsUpstream(t)
  const gw = await createGateway(t, chatConfig(up.origin), { listen: true })

  const missing = await upgradeRequest(`${gw.url}/api/chat/room`)
  assert.equal(missing.status, 401)
  assert.match(String(missing.headers['content-type']), /^application\/problem\+json/)
  assert.equal(JSON.parse(missing.body).code, 'GW_UNAUTHORIZED')
  assert.equal(missing.headers['www-authenticate'], 'Bearer realm="gatehouse"')

  const invalid = await upgradeRequest(`${gw.url}/api/chat/room`, { authorization: `Bearer ${token('alice')}x` })
  assert.equal(invalid.status, 401)
  assert.match(String(invalid.headers['www-authenticate']), /error="invalid_token"/)

  const noScope = await upgradeRequest(`${gw.url}/api/chat/room`, { authorization: `Bearer ${token('alice', 'other')}` })
  assert.equal(noScope.status, 403)

  // A browser-style client sees a failed handshake, not a hang.
  await assert.rejects(openClient(t, wsUrl(gw.url!, '/api/chat/room')), /handshake failed/)

  assert.equal(up.connections(), 0, 'the upstream never saw a connection')
  assert.equal(up.upgrades.length, 0)
})

test('upgrades pass the rate limit and ip access first: 429 with Retry-After past the limit, 403 for a denied address', async (t) => {
  const up = await createWsUpstream(t)
  const gw = await createGateway(t, chatConfig(up.origin, { rateLimit: { max: 1, window: '1m' } }), { listen: true })
  const auth = { authorization: `Bearer ${token('carol')}` }
  const first = await upgradeRequest(`${gw.url}/api/chat`, auth)
  assert.equal(first.status, 101)
  assert.equal(first.headers['x-ratelimit-limit'], '1', 'the 101 carries the rate-limit headers')
  assert.equal(first.headers['x-ratelimit-remaining'], '0')
  assert.ok(first.headers['x-request-id'])
  assert.equal(first.headers.server, undefined, 'no upstream banner')
  assert.equal(first.headers['x-upstream'], 'yes', 'the upstream\'s own 101 headers pass')
  const limited = await upgradeRequest(`${gw.url}/api/chat`, auth)
  assert.equal(limited.status, 429)
  assert.ok(Number(limited.headers['retry-after']) > 0)
  assert.equal(JSON.parse(limited.body).code, 'GW_RATE_LIMITED')
  assert.equal(up.upgrades.length, 1)

  const denied = await createGateway(t, chatConfig(up.origin, { ipAccess: { deny: ['127.0.0.0/8'] } }), { listen: true })
  const refused = await upgradeRequest(`${denied.url}/api/chat`, auth)
  assert.equal(refused.status, 403)
  assert.equal(JSON.parse(refused.body).code, 'GW_FORBIDDEN')
  assert.equal(up.upgrades.length, 1)
})

test('an idle tunnel (no byte either way for timeouts.upstream) is closed with 1001 on both sides', async (t) => {
  const up = await createWsUpstream(t)
  const gw = await createGateway(t, chatConfig(up.origin, {}, { server: { timeouts: { upstream: '300ms' } } }), { listen: true })
  const peerP = up.nextPeer()
  const client = await openClient(t, wsUrl(gw.url!, '/api/chat'), { headers: { authorization: `Bearer ${token('alice')}` } })
  const peer = await peerP
  client.ws.send('still here')
  assert.equal(await client.nextMessage(), 'still here')
  const started = Date.now()
  const closed = await client.closed
  assert.equal(closed.code, 1001)
  assert.equal(closed.reason, 'idle timeout')
  assert.ok(Date.now() - started >= 250, 'not before the idle bound')
  assert.deepEqual(await peer.closed, { code: 1001, reason: 'idle timeout' })
  await until(async () => await gauge(gw.gateway, 'chat') === 0, 'the tunnel gone')
})

test('an upstream that refuses the upgrade has its answer relayed; an unreachable upstream is a 502', async (t) => {
  const up = await createWsUpstream(t, { refuse: () => 403 })
  const gw = await createGateway(t, chatConfig(up.origin), { listen: true })
  const auth = { authorization: `Bearer ${token('alice')}` }
  const refused = await upgradeRequest(`${gw.url}/api/chat`, auth)
  assert.equal(refused.status, 403)
  assert.equal(refused.body, 'refused')
  assert.equal(refused.headers.server, undefined)
  assert.ok(refused.headers['x-request-id'])

  const down = await createGateway(t, chatConfig(`http://127.0.0.1:${await closedPort()}`, { retries: 0 }), { listen: true })
  const failed = await upgradeRequest(`${down.url}/api/chat`, auth)
  assert.equal(failed.status, 502)
  assert.equal(JSON.parse(failed.body).code, 'GW_BAD_GATEWAY')
  assert.ok(!failed.body.includes('127.0.0.1'))
})

test('Upgrade: websocket to a service without websocket: true is served as an ordinary request, the Upgrade header dropped', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }]), { listen: true })
  const res = await upgradeRequest(`${gw.url}/api/users/1`)
  assert.equal(res.status, 200)
  assert.equal(up.requests.length, 1)
  assert.equal(up.requests[0]!.headers.upgrade, undefined)
})

test('shutdown tells open tunnels the gateway is going away (1001) and completes', async (t) => {
  const up = await createWsUpstream(t)
  const gw = await createGateway(t, chatConfig(up.origin), { listen: true })
  const peerP = up.nextPeer()
  const client = await openClient(t, wsUrl(gw.url!, '/api/chat'), { headers: { authorization: `Bearer ${token('alice')}` } })
  const peer = await peerP
  client.ws.send('before')
  assert.equal(await client.nextMessage(), 'before')
  await gw.listening!.shutdown()
  const closed = await client.closed
  assert.equal(closed.code, 1001)
  assert.equal(closed.reason, 'gateway shutting down')
  assert.equal((await peer.closed).code, 1001)
})

test('an upgrade pipelined behind an unanswered request closes that connection; the gateway keeps serving', async (t) => {
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const slow = await createUpstream(t, (req, res) => {
    if (req.url === '/hold') void held.then(() => res.end('late'))
    else res.end('ok')
  })
  const up = await createWsUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'slow', prefix: '/slow', upstreams: [slow.origin] },
    { name: 'chat', prefix: '/api/chat', upstreams: [up.origin], websocket: true },
  ]), { listen: true })
  const socket = net.connect(Number(new URL(gw.url!).port), '127.0.0.1')
  socket.on('error', () => {})
  const closed = once(socket, 'close')
  // Node emits the upgrade while the first request is still being answered.
  socket.write('GET /slow/hold HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /api/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  await closed
  release()
  assert.equal(up.upgrades.length, 0)
  const res = await fetch(`${gw.url}/slow/ok`)
  assert.equal(res.status, 200)
  assert.equal(await res.text(), 'ok')
})

test('a reload never cuts an open tunnel; upgrades after it go through the new generation', async (t) => {
  const up = await createWsUpstream(t)
  const gw = await createGateway(t, chatConfig(up.origin), { listen: true })
  const auth = { authorization: `Bearer ${token('alice')}` }
  const peerP = up.nextPeer()
  const client = await openClient(t, wsUrl(gw.url!, '/api/chat/a'), { headers: auth })
  const peer = await peerP
  assert.equal(peer.request.url, '/a')

  await gw.gateway.applyServices(gw.config.services.map((s) => ({ ...s, rewritePrefix: '/v2' })))
  client.ws.send('after the reload')
  assert.equal(await client.nextMessage(), 'after the reload')
  const nextP = up.nextPeer()
  const second = await openClient(t, wsUrl(gw.url!, '/api/chat/b'), { headers: auth })
  assert.equal((await nextP).request.url, '/v2/b')
  second.ws.close()

  await gw.gateway.applyServices([])
  client.ws.send('service removed, tunnel still open')
  assert.equal(await client.nextMessage(), 'service removed, tunnel still open')
  const gone = await upgradeRequest(`${gw.url}/api/chat/c`, auth)
  assert.equal(gone.status, 404)
  client.ws.close(1000)
  assert.equal((await peer.closed).code, 1000)
})

test('an upgrade target follows the plain-request path rules: %5C and %2F forwarded as they came, malformed escapes and NUL refused', async (t) => {
  const up = await createWsUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'chat', prefix: '/api/chat', upstreams: [up.origin], websocket: true, rewritePrefix: '/rooms' }]), { listen: true })
  // SPEC: `%5C` and `%2F` are data inside a segment, never separators, for upgrades too.
  for (const [target, forwarded] of [['/api/chat/%5c..%5c..%5cadmin', '/rooms/%5c..%5c..%5cadmin'],
    ['/api/chat/..%2F..%2Fsecret', '/rooms/..%2F..%2Fsecret'], ['/api/chat/lobby%5Cnotes?x=1', '/rooms/lobby%5Cnotes?x=1'],
    ['/api/chat?x=1', '/rooms?x=1']]) {
    const res = await upgradeRequest(`${gw.url}${target}`)
    assert.equal(res.status, 101, target)
    assert.equal(up.upgrades.at(-1)!.url, forwarded, target)
  }
  const before = up.upgrades.length
  for (const target of ['/api/chat/%zz', '/api/chat/a%00b']) {
    const res = await upgradeRequest(`${gw.url}${target}`)
    assert.equal(res.status, 400, target)
    assert.equal(JSON.parse(res.body).code, 'GW_BAD_REQUEST')
  }
  assert.equal(up.upgrades.length, before, 'a refused target never reaches the upstream')
})
