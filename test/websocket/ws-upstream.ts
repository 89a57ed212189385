// A small RFC 6455 upstream written out here (no WebSocket library in the project): it
// records every handshake it gets, picks a subprotocol, echoes text and binary messages,
// answers pings, echoes a Close with its code and reason, and can send messages or close
// by itself. http or https (with a certificate).
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import { createHash } from 'node:crypto'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { TestContext } from 'node:test'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

export interface Close { code: number | null, reason: string }

export interface WsPeer {
  request: IncomingMessage
  protocol: string | null
  received: Array<string | Buffer>
  send: (data: string | Buffer) => void
  close: (code: number, reason: string) => void
  nextMessage: () => Promise<string | Buffer>
  // The Close the client (through the gateway) sent, or null code for a connection that ended without one.
  closed: Promise<Close>
}

export interface WsUpstream {
  origin: string
  // Every handshake request, in order.
  upgrades: IncomingMessage[]
  // Requests that were not upgrades.
  plainRequests: IncomingMessage[]
  connections: () => number
  nextPeer: () => Promise<WsPeer>
}

export interface WsUpstreamOptions {
  // Picks one of the offered subprotocols (default: none).
  chooseProtocol?: (offered: string[]) => string | undefined
  // A status to refuse the upgrade with, instead of 101.
  refuse?: (req: IncomingMessage) => number | null
  tls?: { cert: string, key: string }
}

function frame (opcode: number, payload: Buffer): Buffer {
  const len = payload.length
  const head = len < 126
    ? Buffer.from([0x80 | opcode, len])
    : len < 65536
      ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
      : (() => { const b = Buffer.alloc(10); b[0] = 0x80 | opcode; b[1] = 127; b.writeBigUInt64BE(BigInt(len), 2); return b })()
  return Buffer.concat([head, payload])
}

function closePayload (code: number, reason: string): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason))
  b.writeUInt16BE(code, 0)
  b.write(reason, 2)
  return b
}

function accept (socket: Duplex, req: IncomingMessage, head: Buffer, opts: WsUpstreamOptions, deliver: (peer: WsPeer) => void) {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '')
  const protocol = opts.chooseProtocol?.(offered) ?? null
  const key = String(req.headers['sec-websocket-key'])
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${createHash('sha1').update(key + GUID).digest('base64')}\r\n` +
    (protocol !== null ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
    'Server: upstream-banner\r\nX-Upstream: yes\r\n\r\n')

  const received: Array<string | Buffer> = []
  const waiting: Array<(m: string | Buffer) => void> = []
  let sentClose = false
  let resolveClosed!: (c: Close) => void
  const closed = new Promise<Close>((resolve) => { resolveClosed = resolve })
  let buf = head
  const peer: WsPeer = {
    request: req,
    protocol,
    received,
    send (data) { socket.write(frame(typeof data === 'string' ? 1 : 2, Buffer.from(data))) },
    close (code, reason) {
      sentClose = true
      socket.write(frame(8, closePayload(code, reason)))
    },
    nextMessage: () => new Promise((resolve) => waiting.push(resolve)),
    closed,
  }
  function onMessage (m: string | Buffer) {
    received.push(m)
    const w = waiting.shift()
    if (w !== undefined) w(m)
    else peer.send(m) // echo
  }
  function parse () {
    while (buf.length >= 2) {
      const opcode = buf[0]! & 0x0f
      let len = buf[1]! & 0x7f
      let off = 2
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4 } else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10 }
      const masked = (buf[1]! & 0x80) !== 0
      if (!masked) throw new Error('client frame not masked')
      if (buf.length < off + 4 + len) return
      const mask = buf.subarray(off, off + 4)
      const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len))
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!
      buf = buf.subarray(off + 4 + len)
      if (opcode === 1) onMessage(payload.toString('utf8'))
      else if (opcode === 2) onMessage(payload)
      else if (opcode === 9) socket.write(frame(10, payload))
      else if (opcode === 8) {
        const close: Close = payload.length >= 2 ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') } : { code: null, reason: '' }
        resolveClosed(close)
        if (!sentClose) {
          sentClose = true
          socket.write(frame(8, payload))
        }
        socket.end()
        return
      }
    }
  }
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    parse()
  })
  socket.on('error', () => {})
  socket.on('close', () => resolveClosed({ code: null, reason: '' }))
  deliver(peer)
  parse()
}

export async function createWsUpstream (t: TestContext, opts: WsUpstreamOptions = {}): Promise<WsUpstream> {
  const upgrades: IncomingMessage[] = []
  const plainRequests: IncomingMessage[] = []
  const peers: WsPeer[] = []
  const waiters: Array<(p: WsPeer) => void> = []
  let connections = 0
  const onRequest = (req: IncomingMessage, res: http.ServerResponse) => {
    plainRequests.push(req)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ plain: true, headers: req.headers }))
  }
  const server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, onRequest) : http.createServer(onRequest)
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => {
    connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.push(req)
    const status = opts.refuse?.(req) ?? null
    if (status !== null) {
      socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nServer: upstream-banner\r\nConnection: close\r\n\r\nrefused`)
      return
    }
    accept(socket, req, head, opts, (peer) => {
      const w = waiters.shift()
      if (w !== undefined) w(peer)
      else peers.push(peer)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  const port = (server.address() as AddressInfo).port
  return {
    origin: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    upgrades,
    plainRequests,
    connections: () => connections,
    nextPeer: () => {
      const p = peers.shift()
      return p !== undefined ? Promise.resolve(p) : new Promise((resolve) => waiters.push(resolve))
    },
  }
}
