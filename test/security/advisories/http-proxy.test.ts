import { test } from 'node:test'
import assert from 'node:assert/strict'
import type net from 'node:net'
import { createUpstream, type Upstream } from '../../helpers/upstream.ts'
import { baseConfig, createGateway } from '../../helpers/gateway.ts'
import { rawRequest } from '../../helpers/raw-http.ts'
import { expectHealthy, assertUnder } from './helpers.ts'

// Advisories of @fastify/http-proxy (how they are tested: ./helpers.ts).

test('GHSA-7hrw-592w-9wh2 (http-proxy): prefix-escape vectors, plain and as WebSocket upgrades, never leave the prefix or reach another origin', async (t) => {
  const up = await createUpstream(t)
  const attacker = await createUpstream(t)
  // Upgrade handshakes each upstream saw (a WebSocket-enabled service forwards them).
  const upgrades = new Map<Upstream, string[]>([[up, []], [attacker, []]])
  for (const [server, seen] of upgrades) {
    server.server.on('upgrade', (req, socket: net.Socket) => {
      seen.push(req.url!)
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')
    })
  }
  const gw = await createGateway(t, baseConfig([
    { name: 'pub', prefix: '/pub', upstreams: [up.origin], rewritePrefix: '/internal', websocket: true },
  ]), { listen: true })
  // The vectors of http-proxy's own regression test (test/ws-prefix-rewrite.js), and its
  // origin-override vector `/pub//host:port/...`.
  const vectors = [
    '/pub/../secret', '/pub/%2E%2E/secret', '/pub/%2e%2e/secret', '/pub/.%2E/secret', '/pub/%2E./secret',
    '/pub/../internality/secret', '/pub/%2E%2E/internality/secret', '/pub/dir\\..\\..\\internality/secret',
    '/pub/%/secret', '/pub/%5c..%5csecret', '/pub/%5C..%5Csecret', '/pub/%5c..%5c..%5csecret', '/pub/..%2F..%2Fsecret',
    `/pub//127.0.0.1:${attacker.port}/internal`, `/pub/http://127.0.0.1:${attacker.port}/internal`,
  ]
  const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
  for (const vector of vectors) {
    for (const extra of ['Connection: close\r\n', upgrade]) {
      const res = await rawRequest(gw.url!, `GET ${vector} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`)
      assert.ok(res.status < 500, `${vector} -> ${res.status}`)
    }
  }
  assert.equal(attacker.requests.length + upgrades.get(attacker)!.length, 0, 'no request reached another origin')
  assertUnder(up, '/internal')
  assertUnder({ requests: upgrades.get(up)!.map((url) => ({ url })) }, '/internal', 'a WebSocket upgrade handshake was forwarded to')
  await expectHealthy(gw, '/pub/ok')
})
