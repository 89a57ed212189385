import type { Socket } from 'node:net'
import * as E from './errors.ts'
import { buildProblem, PROBLEM_CONTENT_TYPE } from './problem.ts'
import { randomHex } from '../request-context/random-hex.ts'

// Errors Node's HTTP parser raises before Fastify sees a request (smuggling attempts,
// oversized or slow headers). They get a problem+json answer and the connection closes,
// because the byte stream can no longer be trusted to frame another request.
export const MAX_HEADER_BYTES = 16384

export function headersTooLarge (): E.GatewayError {
  return new E.HeadersTooLarge(`Request header block is larger than ${MAX_HEADER_BYTES} bytes`)
}

function errorFor (code: string | undefined): E.GatewayError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW': return headersTooLarge()
    case 'ERR_HTTP_REQUEST_TIMEOUT': return new E.RequestTimeout('Request headers were not received in time')
    default: return new E.BadRequest('The request is malformed')
  }
}

// The problem document of an error answered outside Fastify (no request id exists yet).
export function standaloneProblem (err: E.GatewayError): string {
  return JSON.stringify(buildProblem(err.statusCode, err.code, err.message, randomHex(16)))
}

export function handleClientError (err: Error & { code?: string }, socket: Socket) {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const problem = errorFor(err.code)
  const body = standaloneProblem(problem)
  socket.end(
    `HTTP/1.1 ${problem.statusCode} ${E.TITLES[problem.statusCode]}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' + body
  )
}
