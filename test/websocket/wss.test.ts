import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent } from 'undici'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { caAndLeaf, certDir, selfSigned } from '../tls/certs.ts'
import { createWsUpstream } from './ws-upstream.ts'
import { openClient, upgradeRequest } from './ws-client.ts'

test('wss through the TLS port (http2: true, the upgrade on an HTTP/1.1 connection) to a wss upstream trusted through upstreamTls.ca', async (t) => {
  const dir = certDir(t)
  const gwCert = selfSigned(dir, 'gateway')
  const { ca, leaf } = caAndLeaf(dir, 'upstream')
  const up = await createWsUpstream(t, { tls: { cert: leaf.certPem, key: leaf.keyPem }, chooseProtocol: (p) => p[0] })
  const gw = await createGateway(t, baseConfig([
    { name: 'live', prefix: '/live', upstreams: [up.origin], websocket: true, upstreamTls: { ca: ca.cert } },
  ], { server: { tls: { cert: gwCert.cert, key: gwCert.key }, http2: true } }), { listen: true })
  const dispatcher = new Agent({ connect: { ca: gwCert.certPem } })
  t.after(() => dispatcher.close())

  const peerP = up.nextPeer()
  const client = await openClient(t, gw.url!.replace('https:', 'wss:') + '/live/feed', { protocols: ['feed.v1'], dispatcher })
  const peer = await peerP
  assert.equal(client.ws.protocol, 'feed.v1')
  assert.equal(peer.request.headers['x-forwarded-proto'], 'https')
  assert.equal(peer.request.url, '/feed')
  client.ws.send('over tls both ways')
  assert.equal(await client.nextMessage(), 'over tls both ways')
  client.ws.close(4100, 'tls bye')
  assert.deepEqual(await peer.closed, { code: 4100, reason: 'tls bye' })
  assert.equal((await client.closed).code, 4100)
})

test('a wss upstream whose certificate is not trusted fails the handshake with 502 and no tunnel', async (t) => {
  const dir = certDir(t)
  const { leaf } = caAndLeaf(dir, 'unknown')
  const up = await createWsUpstream(t, { tls: { cert: leaf.certPem, key: leaf.keyPem } })
  const gw = await createGateway(t, baseConfig([
    { name: 'live', prefix: '/live', upstreams: [up.origin], websocket: true, upstreamTls: { rejectUnauthorized: true } },
  ]), { listen: true })
  const res = await upgradeRequest(`${gw.url}/live`)
  assert.equal(res.status, 502)
  assert.equal(JSON.parse(res.body).code, 'GW_BAD_GATEWAY')
  assert.equal(up.upgrades.length, 0)
})
