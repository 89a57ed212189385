import type { Socket } from 'node:net'
import { randomUUID } from 'node:crypto'
import { buildProblem } from './problem.ts'

// Errors Node's HTTP parser raises before Fastify sees a request (smuggling attempts,
// oversized or slow headers). They get a problem+json answer and the connection closes,
// because the byte stream can no longer be trusted to frame another request.
function statusFor (code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'GW_HEADERS_TOO_LARGE', 'Request header block is larger than 16384 bytes']
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'GW_REQUEST_TIMEOUT', 'Request headers were not received in time']
    default:
      return [400, 'GW_BAD_REQUEST', 'The request is malformed']
  }
}

export function handleClientError (err: Error & { code?: string }, socket: Socket) {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const [status, code, detail] = statusFor(err.code)
  const body = JSON.stringify(buildProblem(status, code, detail, randomUUID()))
  socket.end(
    `HTTP/1.1 ${status} ${code === 'GW_BAD_REQUEST' ? 'Bad Request' : code === 'GW_REQUEST_TIMEOUT' ? 'Request Timeout' : 'Request Header Fields Too Large'}\r\n` +
    'Content-Type: application/problem+json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' + body,
  )
}
