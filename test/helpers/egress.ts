// The egress port in tests: a gateway with an `egress` section listening on 127.0.0.1:0,
// raw CONNECT clients, a TCP echo destination, and curl as a child process.
import net from 'node:net'
import { execFile } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { createGateway, type TestGateway } from './gateway.ts'
import { JWT_SECRET, sign } from './tokens.ts'
import type { EgressLookup } from '../../plugins/egress/index.ts'
import type { BuildOptions } from '../../apps/gateway/app.ts'

export interface EgressGateway extends TestGateway {
  egressUrl: string
  egressPort: number
}

// `egress` is the raw section (port 0 unless given); auth.jwt is the tests' HS256 secret
// unless `extra` brings its own auth.
export async function createEgressGateway (t: TestContext, egress: Record<string, unknown>,
  opts: { lookup?: EgressLookup, extra?: Record<string, unknown>, build?: Omit<BuildOptions, 'logger' | 'egressLookup'> } = {}): Promise<EgressGateway> {
  const tg = await createGateway(t, {
    logging: { level: 'info', access: true },
    auth: { jwt: { secret: JWT_SECRET } },
    ...opts.extra,
    egress: { port: 0, ...egress },
    services: [],
  }, { listen: true, build: { ...opts.build, ...(opts.lookup === undefined ? {} : { egressLookup: opts.lookup }) } })
  const egressUrl = tg.listening!.egressUrl!
  return { ...tg, egressUrl, egressPort: Number(new URL(egressUrl).port) }
}

export function proxyBearer (claims: string | Record<string, unknown> = 'svc-a'): string {
  return `Bearer ${sign(claims)}`
}

export interface ConnectReply {
  status: number
  head: string
  headers: Record<string, string>
  // What followed the head in the same reads (the problem document of a refusal).
  rest: Buffer
  socket: net.Socket
}

// CONNECT `target` through the egress port; resolves with the answer's head. On a 200 the
// socket is the tunnel (closed when the test ends). `halfOpen`: the client keeps sending
// after the destination's side has ended, as a tunnel allows.
export function connectVia (t: TestContext, egressUrl: string, target: string, headers: Record<string, string> = {},
  opts: { halfOpen?: boolean } = {}): Promise<ConnectReply> {
  const { hostname, port } = new URL(egressUrl)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: Number(port), host: hostname, allowHalfOpen: opts.halfOpen === true })
    t.after(() => { socket.destroy() })
    let buf = Buffer.alloc(0)
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`CONNECT ${target}: no answer in 5 s`)) }, 5000)
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c])
      const end = buf.indexOf('\r\n\r\n')
      if (end === -1) return
      clearTimeout(timer)
      socket.off('data', onData)
      socket.pause()
      const head = buf.subarray(0, end).toString('latin1')
      const [statusLine, ...lines] = head.split('\r\n')
      const parsed: Record<string, string> = {}
      for (const l of lines) {
        const i = l.indexOf(':')
        parsed[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), head, headers: parsed, rest: buf.subarray(end + 4), socket })
    }
    socket.on('data', onData)
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('close', () => { clearTimeout(timer); reject(new Error(`CONNECT ${target}: closed before an answer`)) })
    let text = `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n`
    for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`
    socket.write(`${text}\r\n`)
  })
}

// Reads the rest of a refusal's problem document (the connection closes after it).
export async function readToEnd (reply: ConnectReply): Promise<string> {
  const chunks: Buffer[] = [reply.rest]
  reply.socket.removeAllListeners('close')
  reply.socket.on('data', (c: Buffer) => chunks.push(c))
  reply.socket.resume()
  await new Promise<void>((resolve) => reply.socket.once('close', () => resolve()))
  return Buffer.concat(chunks).toString()
}

export interface TcpServer {
  port: number
  connections: number
  sockets: Set<net.Socket>
}

// A TCP echo server on 127.0.0.1:0 (closed with its sockets when the test ends).
export async function createEchoServer (t: TestContext): Promise<TcpServer> {
  const state: TcpServer = { port: 0, connections: 0, sockets: new Set() }
  const server = net.createServer((socket) => {
    state.connections++
    state.sockets.add(socket)
    socket.on('close', () => state.sockets.delete(socket))
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as AddressInfo).port
  t.after(() => new Promise<void>((resolve) => {
    for (const s of state.sockets) s.destroy()
    server.close(() => resolve())
  }))
  return state
}

// Writes `data` into an open tunnel and resolves with as many bytes coming back.
export function roundTrip (socket: net.Socket, data: Buffer | string): Promise<Buffer> {
  const want = Buffer.byteLength(data)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let got = 0
    const onData = (c: Buffer) => {
      chunks.push(c)
      got += c.length
      if (got >= want) { socket.off('data', onData); socket.off('close', onClose); resolve(Buffer.concat(chunks)) }
    }
    const onClose = () => reject(new Error(`tunnel closed after ${got} of ${want} bytes`))
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.resume()
    socket.write(data)
  })
}

export interface CurlResult {
  code: number | null
  stdout: string
  stderr: string
}

export function hasCurl (): Promise<boolean> {
  return new Promise((resolve) => execFile('curl', ['--version'], (err) => resolve(err === null)))
}

// curl with a bound run time; never reads the environment's proxy variables.
export function curl (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], {
      env: { PATH: process.env.PATH, ...env },
      timeout: 15_000,
    }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? null), stdout, stderr })
    })
  })
}
