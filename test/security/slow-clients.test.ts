import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { request } from 'undici'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'

function connect (url: string): Promise<net.Socket> {
  const { port } = new URL(url)
  const socket = net.connect(Number(port), '127.0.0.1')
  socket.on('error', () => {})
  return once(socket, 'connect').then(() => socket)
}

function readAll (socket: net.Socket): Promise<string> {
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  return once(socket, 'close').then(() => Buffer.concat(chunks).toString('latin1'))
}

test('slowloris: headers not finished within timeouts.headers get 408 and the connection closes', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }],
    { server: { timeouts: { headers: '300ms' } } }), { listen: true })
  const socket = await connect(gw.url!)
  const answer = readAll(socket)
  socket.write('GET /api/x/1 HTTP/1.1\r\nHost: x\r\nX-Slow: a')
  // Keep trickling bytes without ever ending the header block; the server must cut us off.
  const drip = setInterval(() => { if (!socket.destroyed) socket.write('a') }, 50)
  t.after(() => clearInterval(drip))
  const text = await answer
  clearInterval(drip)
  assert.match(text, /^HTTP\/1\.1 408 /)
  assert.match(text, /GW_REQUEST_TIMEOUT/)
  assert.equal(up.requests.length, 0)

  const ok = await request(`${gw.url}/api/x/1`)
  assert.equal(ok.statusCode, 200)
  await ok.body.dump()
})

test('connection flood: past server.maxConnections new connections are closed at once', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'x', prefix: '/api/x', upstreams: [up.origin] }],
    { server: { maxConnections: 2 } }), { listen: true })
  const held = [await connect(gw.url!), await connect(gw.url!)]
  t.after(() => { for (const s of held) s.destroy() })
  const extra = await connect(gw.url!)
  const text = readAll(extra)
  extra.write('GET /api/x/1 HTTP/1.1\r\nHost: x\r\n\r\n')
  assert.equal(await text, '', 'the refused connection gets no answer, just a close')
  assert.ok(gw.logs.some((l) => l.msg === 'connection refused: maxConnections reached'))

  for (const s of held) s.destroy()
  await Promise.all(held.map((s) => once(s, 'close')))
  // Capacity frees up as soon as connections go.
  let status = 0
  for (let i = 0; i < 50 && status !== 200; i++) {
    try {
      const res = await request(`${gw.url}/api/x/1`, { reset: true })
      status = res.statusCode
      await res.body.dump()
    } catch { /* the server may still be counting the old sockets */ }
  }
  assert.equal(status, 200)
})
