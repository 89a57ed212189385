import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import https from 'node:https'
import { isIP, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { UpstreamTlsConfig } from '../../lib/config-types.ts'

// The upstream half of a WebSocket handshake: the client's upgrade request, with the
// gateway's forwarding headers, sent on a connection of its own (a tunnel holds its
// socket for its whole life, so it never comes from or goes back to a pool). The client
// gets its 101 only once the upstream has accepted, with the subprotocol and extensions
// the upstream chose; an upstream that refuses gets its answer relayed instead.

export type UpstreamHandshake =
  | { upgraded: true, res: IncomingMessage, socket: Duplex, head: Buffer }
  | { upgraded: false, res: IncomingMessage }

export interface HandshakeOptions {
  origin: string // http(s)://host:port
  path: string
  headers: IncomingHttpHeaders
  tls: UpstreamTlsConfig | null
  connectMs: number
  // Until the upstream's answer (101 or other) has arrived.
  timeoutMs: number
  signal: AbortSignal
}

function timeoutError (message: string, code: string): Error {
  return Object.assign(new Error(message), { code })
}

export function upstreamHandshake (opts: HandshakeOptions): Promise<UpstreamHandshake> {
  return new Promise((resolve, reject) => {
    const url = new URL(opts.origin)
    const secure = url.protocol === 'https:'
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    const options: https.RequestOptions = {
      host: hostname,
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      method: 'GET',
      path: opts.path,
      headers: opts.headers,
      agent: false,
    }
    if (secure) {
      if (isIP(hostname) === 0) options.servername = hostname
      if (opts.tls !== null) {
        options.rejectUnauthorized = opts.tls.rejectUnauthorized
        if (opts.tls.ca !== undefined) options.ca = opts.tls.ca
      }
    }
    let settled = false
    const req = (secure ? https : http).request(options)
    const connectTimer = setTimeout(() => req.destroy(timeoutError('upstream connect timeout', 'UND_ERR_CONNECT_TIMEOUT')), opts.connectMs)
    const answerTimer = setTimeout(() => req.destroy(timeoutError('upstream handshake timeout', 'UND_ERR_HEADERS_TIMEOUT')), opts.timeoutMs)
    function settle () {
      settled = true
      clearTimeout(connectTimer)
      clearTimeout(answerTimer)
      opts.signal.removeEventListener('abort', onAbort)
    }
    function onAbort () {
      req.destroy(Object.assign(new Error('client went away'), { name: 'AbortError', code: 'ABORT_ERR' }))
    }
    opts.signal.addEventListener('abort', onAbort)
    req.once('socket', (socket: Socket) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer))
    })
    req.once('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (settled) { socket.destroy(); return }
      settle()
      resolve({ upgraded: true, res, socket, head })
    })
    req.once('response', (res: IncomingMessage) => {
      if (settled) { res.destroy(); return }
      settle()
      resolve({ upgraded: false, res })
    })
    req.on('error', (err) => {
      if (settled) return
      settle()
      reject(err)
    })
    req.end()
  })
}
