import type { ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { TITLES, type GatewayError } from '../errors/errors.ts'
import { buildProblem, PROBLEM_CONTENT_TYPE } from '../errors/problem.ts'

// The egress port's own answers: problem+json with a requestId, as on the public port,
// with the error's headers (Proxy-Authenticate, Retry-After). Details never name an
// address the gateway resolved or a reason from the destination's side.

const LINGER_MS = 2000

function body (err: GatewayError, requestId: string): string {
  return JSON.stringify(buildProblem(err.statusCode, err.code, err.message, requestId))
}

// On a CONNECT's socket: the answer, then the connection closes (SPEC).
export function answerSocket (socket: Duplex, err: GatewayError, requestId: string): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const text = body(err, requestId)
  let head = `HTTP/1.1 ${err.statusCode} ${TITLES[err.statusCode] ?? 'Error'}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
    `X-Request-Id: ${requestId}\r\nConnection: close\r\n`
  for (const [name, value] of Object.entries(err.headers ?? {})) head += `${name}: ${value}\r\n`
  socket.end(`${head}\r\n${text}`)
  // Whatever the client sends meanwhile is read and dropped (unread bytes would make the
  // close a reset that can beat the answer); a client that never closes is cut shortly.
  socket.resume()
  socket.once('end', () => socket.destroy())
  socket.once('finish', () => setTimeout(() => socket.destroy(), LINGER_MS).unref())
}

// On an absolute-form request's response (the connection may stay open).
export function answerResponse (res: ServerResponse, err: GatewayError, requestId: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const text = body(err, requestId)
  res.writeHead(err.statusCode, {
    ...err.headers,
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-request-id': requestId,
  })
  res.end(text)
}
