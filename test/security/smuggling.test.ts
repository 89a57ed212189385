import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { rawRequest } from '../helpers/raw-http.ts'

// Each payload tries to make the gateway and the upstream disagree on where a request
// ends, so that a second, hidden request reaches the upstream. All must be refused with
// 400 by the gateway and nothing may be forwarded.
const HIDDEN = 'GET /api/x/admin HTTP/1.1\r\nHost: x\r\n\r\n'
const ATTACKS: Record<string, string> = {
  'CL.TE: Content-Length and Transfer-Encoding together':
    `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${HIDDEN}`,
  'two different Content-Length headers':
    `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello${HIDDEN}`,
  'obfuscated Transfer-Encoding: chunked, identity':
    `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n${HIDDEN}`,
  'obfuscated Transfer-Encoding with a tab before the colon':
    `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${HIDDEN}`,
  'Transfer-Encoding with a leading space line fold':
    `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nX-Foo: bar\r\n Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${HIDDEN}`,
  'bare LF line endings':
    `POST /api/x/1 HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello${HIDDEN}`,
  'invalid chunk size':
    `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n${HIDDEN}`,
  'chunk size with trailing garbage':
    `POST /api/x/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 ;\x00\r\nhello\r\n0\r\n\r\n${HIDDEN}`,
}

for (const [name, payload] of Object.entries(ATTACKS)) {
  test(`request smuggling is refused: ${name}`, async (t) => {
    const up = await createUpstream(t)
    const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }]), { listen: true })
    const res = await rawRequest(gw.url!, payload)
    assert.equal(res.status, 400, res.raw.slice(0, 200))
    assert.equal(up.requests.filter((r) => r.url === '/admin').length, 0, 'the hidden request never reached the upstream')
    const ok = await rawRequest(gw.url!, 'GET /api/x/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.equal(ok.status, 200, 'the gateway keeps serving')
  })
}
