import { randomHex } from './random-hex.ts'
import type { IncomingMessage } from 'node:http'

const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/

// A client's X-Request-Id is kept only when it is safe to echo into logs and headers.
export function requestIdFor (req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && VALID_ID.test(given) ? given : randomHex(16)
}
