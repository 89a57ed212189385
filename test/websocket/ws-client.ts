import http, { type IncomingHttpHeaders } from 'node:http'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { WebSocket, type Dispatcher } from 'undici'

// undici's WebSocket client (it sends extra headers, e.g. Authorization, and takes a
// dispatcher for wss with a test CA), wrapped in promises.
export interface Client {
  ws: WebSocket
  nextMessage: () => Promise<string | Buffer>
  closed: Promise<{ code: number, reason: string, wasClean: boolean }>
}

export async function openClient (t: TestContext, url: string, init: { protocols?: string[], headers?: Record<string, string>, dispatcher?: Dispatcher } = {}): Promise<Client> {
  const ws = new WebSocket(url, init as never)
  ws.binaryType = 'arraybuffer'
  t.after(() => { if (ws.readyState === WebSocket.OPEN) ws.close() })
  const queue: Array<string | Buffer> = []
  const waiting: Array<(m: string | Buffer) => void> = []
  ws.addEventListener('message', (e) => {
    const m = typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer)
    const w = waiting.shift()
    if (w !== undefined) w(m)
    else queue.push(m)
  })
  const closed = new Promise<{ code: number, reason: string, wasClean: boolean }>((resolve) => {
    ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }))
  })
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve())
    ws.addEventListener('error', () => reject(new Error('websocket handshake failed')))
  })
  return {
    ws,
    nextMessage: () => {
      const m = queue.shift()
      return m !== undefined ? Promise.resolve(m) : new Promise((resolve) => waiting.push(resolve))
    },
    closed,
  }
}

export interface UpgradeAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

// A raw upgrade request, to see exactly what a refused handshake gets back.
export function upgradeRequest (url: string, headers: Record<string, string> = {}): Promise<UpgradeAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
      agent: false,
    })
    req.on('upgrade', (res, socket) => {
      socket.destroy()
      resolve({ status: res.statusCode!, headers: res.headers, body: '' })
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}
