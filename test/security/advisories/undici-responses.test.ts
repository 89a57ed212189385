import { test } from 'node:test'
import assert from 'node:assert/strict'
import type net from 'node:net'
import { request } from 'undici'
import { createRawUpstream } from '../../helpers/raw-upstream.ts'
import { baseConfig, createGateway } from '../../helpers/gateway.ts'

// Advisories of undici (upstream responses) (how they are tested: ./helpers.ts).

const POISON = 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned'
// Each first answer leaves bytes on the keep-alive socket that a desynchronised client
// would read as the answer to the *next* request (possibly another client's).
const DESYNC: Record<string, (socket: net.Socket) => void> = {
  'extra bytes after the body, same packet': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' + POISON),
  'extra bytes after the body, arriving next tick on the idle socket': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    setImmediate(() => s.write(POISON))
  },
  'Content-Length and Transfer-Encoding together': (s) =>
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${5 + POISON.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${POISON}`),
  'two different Content-Length headers': (s) =>
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: ${2 + POISON.length}\r\n\r\nok${POISON}`),
  'a chunked body followed by a second response': (s) =>
    s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n${POISON}`),
  '204 carrying a body': (s) => s.write(`HTTP/1.1 204 No Content\r\nContent-Length: ${POISON.length}\r\n\r\n${POISON}`),
}

for (const [name, firstAnswer] of Object.entries(DESYNC)) {
  test(`GHSA-35p6-xmwp-9g52 (undici response desync): ${name} never poisons the next request on the reused upstream socket`, async (t) => {
    const sockets: net.Socket[] = []
    const up = await createRawUpstream(t, (socket, _head, index) => {
      sockets[index] = socket
      if (index === 0) firstAnswer(socket)
      else socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nfresh-${index % 10}`)
    })
    const gw = await createGateway(t, baseConfig([
      { name: 'x', prefix: '/api/x', upstreams: [up.origin], retries: 0, circuitBreaker: false },
    ]), { listen: true })
    const first = await request(`${gw.url}/api/x/0`)
    const firstBody = await first.body.text().catch(() => '')
    assert.ok(!firstBody.includes('poisoned'))
    for (let i = 1; i <= 3; i++) {
      const res = await request(`${gw.url}/api/x/${i}`)
      assert.equal(res.statusCode, 200)
      assert.equal(await res.body.text(), `fresh-${i}`, 'each answer is the one to its own request')
    }
    assert.equal(up.requests.length, 4)
    for (let i = 1; i <= 3; i++) assert.notEqual(sockets[i], sockets[0], 'the poisoned socket was never reused')
  })
}
