import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { rawRequest } from '../helpers/raw-http.ts'

test('oversized chunked upload without Content-Length is cut with 413 and the upstream never gets a complete request', async (t) => {
  const up = await createUpstream(t)
  let upstreamAborted!: () => void
  const aborted = new Promise<void>((resolve) => { upstreamAborted = resolve })
  up.server.on('request', (req) => req.on('aborted', () => upstreamAborted()))
  const gw = await createGateway(t, baseConfig([{ name: 'files', prefix: '/api/files', upstreams: [up.origin] }],
    { server: { bodyLimit: '64kb' } }), { listen: true })

  async function * chunks () {
    for (let i = 0; i < 10; i++) yield Buffer.alloc(16 * 1024, 1)
  }
  const res = await request(`${gw.url}/api/files/upload`, { method: 'POST', body: Readable.from(chunks()) })
  assert.equal(res.statusCode, 413)
  assert.equal((await res.body.json() as { code: string }).code, 'GW_PAYLOAD_TOO_LARGE')
  await aborted
  assert.equal(up.requests.length, 0, 'the upstream never saw a complete request it could act on')

  const ok = await request(`${gw.url}/api/files/ping`)
  assert.equal(ok.statusCode, 200, 'the gateway keeps serving')
  await ok.body.dump()
})

test('oversized upload with Content-Length is refused with 413 before anything is forwarded', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'files', prefix: '/api/files', upstreams: [up.origin] }],
    { server: { bodyLimit: '1kb' } }), { listen: true })
  const res = await rawRequest(gw.url!, 'POST /api/files/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n' + 'a'.repeat(5000))
  assert.equal(res.status, 413)
  assert.equal(JSON.parse(res.body).code, 'GW_PAYLOAD_TOO_LARGE')
  assert.equal(up.requests.length, 0)
})

test('client aborting mid-upload aborts the upstream request', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'files', prefix: '/api/files', upstreams: [up.origin] }]), { listen: true })
  const arrived = up.nextRequest()
  const { port } = new URL(gw.url!)
  const socket = net.connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  socket.write('POST /api/files/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n' + 'a'.repeat(1000))
  const upstreamReq = await arrived
  const closed = new Promise((resolve) => upstreamReq.once('close', resolve))
  socket.destroy()
  await closed
  assert.equal(upstreamReq.complete, false, 'the upstream request was cut, not completed')
  assert.equal(up.requests.length, 0)
})
