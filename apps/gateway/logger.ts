import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'

// Tokens and cookies must never reach a log line, whatever code logs a request.
export const REDACT = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
  'res.headers["set-cookie"]',
]

export function createLogger (level: string, destination?: pino.DestinationStream): FastifyBaseLogger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } }, destination) as unknown as FastifyBaseLogger
}
