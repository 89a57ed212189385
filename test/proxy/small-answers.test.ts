// A small answer of declared length is collected whole before it goes to the client
// (plugins/proxy/upstream-dispatcher.ts); everything else streams as it comes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request } from 'undici'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'

test('a small answer cut mid-body is 502 problem+json, never a truncated 200, and is not retried', async (t) => {
  const up = await createUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
    res.write('{"partial":')
    // The headers and 11 of 1000 bytes are out: then the connection dies.
    setImmediate(() => res.socket!.destroy())
  })
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin], retries: 1 }]), { listen: true })
  const res = await request(`${gw.url}/api/x/1`)
  assert.equal(res.statusCode, 502)
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
  assert.equal((await res.body.json() as { code: string }).code, 'GW_BAD_GATEWAY')
  assert.equal(up.requests.length, 1, 'sent once: an answered request is never retried')
})

test('an answer over the small-answer bound streams: the client has its first bytes before the upstream finishes', async (t) => {
  let finish!: () => void
  const finished = new Promise<void>((resolve) => { finish = resolve })
  const first = Buffer.alloc(64 * 1024, 'a')
  const up = await createUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(2 * first.length) })
    res.write(first)
    finished.then(() => res.end(first), () => {})
  })
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }]), { listen: true })
  const res = await request(`${gw.url}/api/x/big`)
  assert.equal(res.statusCode, 200)
  const [chunk] = await once(res.body, 'data') as [Buffer]
  assert.ok(chunk.length > 0, 'bytes arrived while the upstream still holds the rest')
  finish()
  let total = chunk.length
  for await (const more of res.body) total += (more as Buffer).length
  assert.equal(total, 2 * first.length)
})

test('HEAD and 204 answers pass through with their headers as the upstream sent them', async (t) => {
  const up = await createUpstream(t, (req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1234' })
      res.end()
      return
    }
    res.writeHead(204, { 'x-kind': 'empty' })
    res.end()
  })
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }]), { listen: true })
  const head = await request(`${gw.url}/api/x/1`, { method: 'HEAD' })
  assert.equal(head.statusCode, 200)
  assert.equal(head.headers['content-length'], '1234')
  await head.body.dump()
  const empty = await request(`${gw.url}/api/x/1`)
  assert.equal(empty.statusCode, 204)
  assert.equal(empty.headers['x-kind'], 'empty')
  assert.equal((await empty.body.text()), '')
})

test('a small answer keeps its bytes, status, repeated headers and Content-Length exactly', async (t) => {
  const body = Buffer.from(JSON.stringify({ ok: true, text: 'é'.repeat(100) }))
  const up = await createUpstream(t, (_req, res) => {
    res.setHeader('set-cookie', ['a=1', 'b=2'])
    res.writeHead(201, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length), 'x-custom': 'kept' })
    // In two writes: collected whole, in order.
    res.write(body.subarray(0, 7))
    setImmediate(() => res.end(body.subarray(7)))
  })
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }]), { listen: true })
  const res = await request(`${gw.url}/api/x/1`)
  assert.equal(res.statusCode, 201)
  assert.equal(res.headers['content-length'], String(body.length))
  assert.equal(res.headers['x-custom'], 'kept')
  assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2'])
  assert.ok(Buffer.from(await res.body.arrayBuffer()).equals(body))
})
