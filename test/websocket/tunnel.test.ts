import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway } from '../helpers/gateway.ts'
import { createWsUpstream } from './ws-upstream.ts'
import { openClient, upgradeRequest } from './ws-client.ts'
import { waitFor } from '../helpers/wait.ts'
import { token, wsUrl, gauge, chatConfig, TRACEPARENT } from './helpers.ts'

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
  await gw.waitForLog((l) => l.msg === 'request' && l.status === 101)

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
  await waitFor('one tunnel left', async () => await gauge(gw.gateway, 'chat') === 1)

  b.ws.close(1000, 'done')
  assert.deepEqual(await pb!.closed, { code: 1000, reason: 'done' })
  await waitFor('no tunnel left', async () => await gauge(gw.gateway, 'chat') === 0)
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
  await waitFor('the tunnel gone', async () => await gauge(gw.gateway, 'chat') === 0)
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
