import http from 'node:http'
import https from 'node:https'
import http2 from 'node:http2'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { ServerConfig } from '../config/types.ts'
import { PROBLEM_CONTENT_TYPE } from '../../../plugins/errors/problem.ts'
import { headersTooLarge, MAX_HEADER_BYTES, standaloneProblem } from '../../../plugins/errors/client-error.ts'
import { readCertificatePair, type CertificatePair } from './certificates.ts'
import { protocolOptions } from './protocol-policy.ts'

// The public port's server, by `server.tls` / `server.http2`:
//   no tls          -> http.Server
//   tls             -> https.Server (HTTP/1.1 over TLS)
//   tls + http2     -> http2 secure server with allowHTTP1: ALPN picks h2 or http/1.1 per
//                      connection; both kinds reach the same handler (Node's compat API).
// TLS versions and suites: protocol-policy.ts (Mozilla intermediate unless configured).
// Every kind gets the same header limit, header/request/keep-alive timeouts and
// connection cap (Node applies the HTTP/1 options to the http/1.1 connections of the
// http2 server too). Drain needs one API over all three: closeIdle() ends idle keep-alive
// connections and sends GOAWAY to HTTP/2 sessions (their open streams finish), closeAll()
// cuts whatever is left.

export type PublicServer = http.Server | https.Server | http2.Http2SecureServer

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

export interface PublicListenerOptions {
  server: ServerConfig
  handler: Handler
  upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void
  shouldUpgrade: (req: http.IncomingMessage) => boolean
  logger: FastifyBaseLogger
}

export interface PublicListener {
  server: PublicServer
  scheme: 'http' | 'https'
  // The pair the server started with (null without tls).
  certificate: CertificatePair | null
  closeIdle: () => void
  closeAll: () => void
}

// Node's HTTP/2 settings do not hold a client to a header-list size until it has
// acknowledged them (a request sent at once gets through), so the 16 KiB limit of
// HTTP/1.1 is checked here, counted as HTTP/1.1 would (name + value + 4 per field,
// the pseudo-headers standing for the request line): 431 GW_HEADERS_TOO_LARGE.
function headerBytes (rawHeaders: string[]): number {
  let n = 0
  for (let i = 0; i < rawHeaders.length; i++) n += rawHeaders[i]!.length + 2
  return n
}

function withHttp2HeaderLimit (handler: Handler): Handler {
  return function http2HeaderLimit (req, res) {
    if (req.httpVersionMajor !== 2 || headerBytes(req.rawHeaders) <= MAX_HEADER_BYTES) {
      handler(req, res)
      return
    }
    const body = standaloneProblem(headersTooLarge())
    res.writeHead(431, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }
}

// TLS failures (a handshake that times out, a ClientHello OpenSSL refuses) reach the
// server's 'clientError' too, on a socket with no TLS session: an HTTP answer written
// there would wait forever for a handshake. Such a socket is closed; the rest go to the
// HTTP handler.
export function tlsAwareClientError<S extends { destroy: () => unknown }> (handle: (err: Error & { code?: string }, socket: S) => void) {
  return function onClientError (err: Error & { code?: string, library?: string }, socket: S) {
    const code = err.code ?? ''
    if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || err.library !== undefined) {
      socket.destroy()
      return
    }
    handle(err, socket)
  }
}

export function httpServerOptions (s: ServerConfig): http.ServerOptions {
  return {
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: s.timeouts.headersMs,
    // The whole request (headers and body) may take as long as an upstream call.
    requestTimeout: s.timeouts.headersMs + s.timeouts.upstreamMs,
    keepAliveTimeout: s.timeouts.keepAliveMs,
    connectionsCheckingInterval: Math.min(1000, s.timeouts.headersMs),
  }
}

export async function createPublicListener (opts: PublicListenerOptions): Promise<PublicListener> {
  const s = opts.server
  const base = httpServerOptions(s)
  let server: PublicServer
  let certificate: CertificatePair | null = null
  const sessions = new Set<http2.ServerHttp2Session>()

  if (s.tls === null) {
    server = http.createServer({ ...base, shouldUpgradeCallback: opts.shouldUpgrade }, opts.handler)
  } else {
    // Invalid files fail the start, with the reason (the config check already saw them readable).
    certificate = await readCertificatePair(s.tls)
    // A client must finish its TLS handshake as fast as its request headers.
    const tls = { cert: certificate.cert, key: certificate.key, ...protocolOptions(s.tls), handshakeTimeout: s.timeouts.headersMs }
    if (!s.http2) {
      server = https.createServer({ ...base, ...tls, shouldUpgradeCallback: opts.shouldUpgrade }, opts.handler)
    } else {
      const h2 = http2.createSecureServer({
        ...base,
        ...tls,
        allowHTTP1: true,
      } as http2.SecureServerOptions, withHttp2HeaderLimit(opts.handler) as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
      // WebSocket upgrades arrive on the http/1.1 connections of this server; the option
      // is read from the server object by Node's HTTP/1 connection code.
      ;(h2 as unknown as { shouldUpgradeCallback: PublicListenerOptions['shouldUpgrade'] }).shouldUpgradeCallback = opts.shouldUpgrade
      h2.on('session', (session: http2.ServerHttp2Session) => {
        sessions.add(session)
        session.once('close', () => sessions.delete(session))
        // An idle session goes like an idle keep-alive connection. close() is a GOAWAY:
        // streams still open finish first, so a slow upstream call is never cut by it.
        if (s.timeouts.keepAliveMs > 0) session.setTimeout(s.timeouts.keepAliveMs, () => session.close())
      })
      // A peer's protocol error ends its own session; nothing to do but not crash.
      h2.on('sessionError', (err: Error) => opts.logger.debug({ err }, 'http2 session error'))
      server = h2
    }
  }
  server.on('upgrade', opts.upgrade)

  // TLS connections are tracked for closeAll(): http2 servers have no
  // closeAllConnections(), and a connection still in its handshake is in no list of
  // Node's yet. (Upgraded sockets leave Node's lists; their tunnels are cut by the caller.)
  const sockets = new Set<Socket>()
  if (s.tls !== null) {
    server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
  }

  return {
    server,
    scheme: s.tls === null ? 'http' : 'https',
    certificate,
    closeIdle () {
      ;(server as http.Server).closeIdleConnections?.()
      for (const session of sessions) if (!session.closed) session.close()
    },
    closeAll () {
      for (const session of sessions) session.destroy()
      for (const socket of sockets) socket.destroy()
      ;(server as http.Server).closeAllConnections?.()
    },
  }
}
