import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { createEgressGateway, connectVia, proxyBearer } from '../helpers/egress.ts'

// A tunnel buffers nothing past the sockets' own buffers and one chunk in flight: a side
// that stops reading stalls the side that writes, whichever way the bytes go.

const LOCAL = ['127.0.0.1/32']
const MiB = 1024 * 1024
// More than the kernel's socket buffers on the path can hold (tcp_rmem/tcp_wmem maxima
// are 32 + 4 MiB per socket here), so a relay that buffers would take all of it.
const OFFERED = 256 * MiB
const BOUND = 48 * MiB
// A write waiting this long for its drain is a stalled writer.
const QUIET_MS = 1000

// Writes 1 MiB chunks into `socket` as fast as it takes them, up to `limit`; resolves with
// what it took, once a write has waited QUIET_MS for its drain or the limit is reached.
async function pushUntilStalled (socket: net.Socket, limit: number): Promise<number> {
  const chunk = Buffer.alloc(MiB, 0x61)
  let taken = 0
  while (taken < limit) {
    taken += chunk.length
    if (socket.write(chunk)) continue
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { socket.off('drain', onDrain); resolve(false) }, QUIET_MS)
      const onDrain = () => { clearTimeout(timer); resolve(true) }
      socket.once('drain', onDrain)
    })
    if (!drained) break
  }
  return taken
}

// Reads everything `socket` delivers until its end; resolves with the byte count.
async function drain (socket: net.Socket): Promise<number> {
  let n = 0
  socket.on('data', (c: Buffer) => { n += c.length })
  socket.resume()
  await once(socket, 'end')
  return n
}

async function tcpServer (t: TestContext, onSocket: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>()
  // Half-open, as a tunnel is: each side ends its own direction.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onSocket(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  return (server.address() as AddressInfo).port
}

test('a client that stops reading cannot make the gateway buffer a fast destination (memory exhaustion downstream)', async (t) => {
  let pushed!: Promise<number>
  const port = await tcpServer(t, (socket) => {
    pushed = pushUntilStalled(socket, OFFERED).then((n) => { socket.end(); return n })
  })
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [port] }], allowNetworks: LOCAL })
  const reply = await connectVia(t, gw.egressUrl, `127.0.0.1:${port}`, { 'Proxy-Authorization': proxyBearer() })
  assert.equal(reply.status, 200)
  // The client reads nothing (connectVia left it paused) until the destination stalls.
  const taken = await pushed
  assert.ok(taken < BOUND, `the destination handed over ${taken / MiB} MiB to a client reading nothing`)
  // Then every byte it handed over arrives.
  assert.equal(reply.rest.length + await drain(reply.socket), taken)
})

test('a destination that stops reading cannot make the gateway buffer a fast client (memory exhaustion upstream)', async (t) => {
  let destination!: net.Socket
  const port = await tcpServer(t, (socket) => {
    destination = socket
    socket.pause()
  })
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [port] }], allowNetworks: LOCAL })
  const reply = await connectVia(t, gw.egressUrl, `127.0.0.1:${port}`, { 'Proxy-Authorization': proxyBearer() })
  assert.equal(reply.status, 200)
  const taken = await pushUntilStalled(reply.socket, OFFERED)
  assert.ok(taken < BOUND, `the client handed over ${taken / MiB} MiB to a destination reading nothing`)
  reply.socket.end()
  assert.equal(await drain(destination), taken)
})

test('bytes arrive intact both ways on many tunnels at once while slow readers on each side queue writes', async (t) => {
  const TUNNELS = 8
  const BYTES = 24 * MiB
  // Each side sends random bytes in uneven writes and hashes what it reads; every other
  // tunnel reads slowly on both sides, so the gateway's writes toward them queue. 24 MiB
  // is more than the kernels' socket buffers take (8-12 MiB above): with 4 MiB nothing
  // queued, and a chunk reused while its write was queued went unnoticed.
  const sendAll = async (socket: net.Socket, body: Buffer) => {
    for (let at = 0; at < body.length;) {
      const n = Math.min(body.length - at, 1 + Math.floor(Math.random() * 300_000))
      if (!socket.write(body.subarray(at, at + n))) await once(socket, 'drain')
      at += n
    }
    socket.end()
  }
  const hashAll = (socket: net.Socket, slow: boolean, first: Buffer = Buffer.alloc(0)) => new Promise<string>((resolve) => {
    const hash = createHash('sha256').update(first)
    let chunks = 0
    socket.on('data', (c: Buffer) => {
      hash.update(c)
      if (slow && ++chunks % 2 === 0) {
        socket.pause()
        setTimeout(() => socket.resume(), 5)
      }
    })
    socket.once('end', () => resolve(hash.digest('hex')))
    socket.resume()
  })
  const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex')
  const atDestination = new Map<string, Promise<{ got: string, sent: string }>>()
  const port = await tcpServer(t, (socket) => {
    socket.once('data', (id: Buffer) => {
      const i = Number(id.subarray(0, 4).readUInt32BE())
      const body = randomBytes(BYTES)
      atDestination.set(String(i), Promise.all([hashAll(socket, i % 2 === 1, id.subarray(4)), sendAll(socket, body)])
        .then(([got]) => ({ got, sent: digest(body) })))
    })
  })
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [port] }], allowNetworks: LOCAL })
  await Promise.all(Array.from({ length: TUNNELS }, async (_, i) => {
    const reply = await connectVia(t, gw.egressUrl, `127.0.0.1:${port}`, { 'Proxy-Authorization': proxyBearer() }, { halfOpen: true })
    assert.equal(reply.status, 200)
    const id = Buffer.alloc(4)
    id.writeUInt32BE(i)
    reply.socket.write(id)
    const body = randomBytes(BYTES)
    const [got] = await Promise.all([hashAll(reply.socket, i % 2 === 1, reply.rest), sendAll(reply.socket, body)])
    const there = await atDestination.get(String(i))!
    assert.equal(got, there.sent, `tunnel ${i}: the bytes that came down differ from those the destination sent`)
    assert.equal(there.got, digest(body), `tunnel ${i}: the bytes that went up differ from those the client sent`)
  }))
})

test('many fast clients at once cannot make the gateway buffer for destinations reading nothing (memory exhaustion upstream, 32 tunnels)', async (t) => {
  // Every tunnel reads in the same poll phases, so their write batches are flushed side by
  // side: each must still stall its own client, and every byte taken must arrive.
  const TUNNELS = 32
  const destinations: net.Socket[] = []
  const port = await tcpServer(t, (socket) => {
    destinations.push(socket)
    socket.pause()
  })
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [port] }], allowNetworks: LOCAL })
  const replies = await Promise.all(Array.from({ length: TUNNELS }, () =>
    connectVia(t, gw.egressUrl, `127.0.0.1:${port}`, { 'Proxy-Authorization': proxyBearer() })))
  for (const reply of replies) assert.equal(reply.status, 200)
  const taken = await Promise.all(replies.map((reply) => pushUntilStalled(reply.socket, OFFERED)))
  for (const [i, n] of taken.entries()) assert.ok(n < BOUND, `tunnel ${i}: the client handed over ${n / MiB} MiB to a destination reading nothing`)
  for (const reply of replies) reply.socket.end()
  const arrived = await Promise.all(destinations.map(drain))
  assert.equal(arrived.reduce((a, b) => a + b, 0), taken.reduce((a, b) => a + b, 0))
})
