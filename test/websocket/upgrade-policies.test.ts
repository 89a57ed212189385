import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { createWsUpstream } from './ws-upstream.ts'
import { openClient, upgradeRequest } from './ws-client.ts'
import { token, wsUrl, chatConfig } from './helpers.ts'

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

test('an upgrade target follows the plain-request path rules: %5C and %2F forwarded as they came, a target that decodes to a .. segment, malformed escapes and NUL refused', async (t) => {
  const up = await createWsUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'chat', prefix: '/api/chat', upstreams: [up.origin], websocket: true, rewritePrefix: '/rooms' }]), { listen: true })
  // SPEC: `%5C` and `%2F` are data inside a segment, never separators, for upgrades too.
  for (const [target, forwarded] of [['/api/chat/lobby%5Cnotes?x=1', '/rooms/lobby%5Cnotes?x=1'],
    ['/api/chat/group%2Froom', '/rooms/group%2Froom'], ['/api/chat?x=1', '/rooms?x=1']]) {
    const res = await upgradeRequest(`${gw.url}${target}`)
    assert.equal(res.status, 101, target)
    assert.equal(up.upgrades.at(-1)!.url, forwarded, target)
  }
  const before = up.upgrades.length
  for (const target of ['/api/chat/%zz', '/api/chat/a%00b', '/api/chat/%5c..%5c..%5cadmin', '/api/chat/..%2F..%2Fsecret']) {
    const res = await upgradeRequest(`${gw.url}${target}`)
    assert.equal(res.status, 400, target)
    assert.equal(JSON.parse(res.body).code, 'GW_BAD_REQUEST')
  }
  assert.equal(up.upgrades.length, before, 'a refused target never reaches the upstream')
})
