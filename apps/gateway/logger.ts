import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { isGatewayError } from '../../plugins/errors/errors.ts'

// Tokens and cookies must never reach a log line, whatever code logs a request.
export const REDACT = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
  'res.headers["set-cookie"]',
]

// @fastify/reply-from writes this at warn, with the error's whole stack, for every proxied
// call that ended without an answer: also when the client hung up first (one line per
// abandoned request) and when the gateway itself refused the call (one per request while
// a circuit is open). The access log and metrics count those already (499, 503 with its
// GW_* code); what a real upstream failure needs in the log is its cause, once, short.
export const REPLY_FROM_FAILURE = 'response errored'
export const UPSTREAM_FAILED = 'upstream call failed'

type LogArgs = Parameters<pino.LogFn>

// Not under `err`: pino's error serializer would add the stack back.
function briefError (err: Error & { code?: unknown }) {
  return { error: { type: err.name, code: err.code, message: err.message } }
}

function logMethod (this: pino.Logger, args: LogArgs, method: pino.LogFn) {
  const err = args[0] as unknown
  if (args[1] === REPLY_FROM_FAILURE && err instanceof Error) {
    const code = (err as { code?: unknown }).code
    if (code === 'UND_ERR_ABORTED' || isGatewayError(err)) {
      // Debug keeps them for whoever needs them; at the usual levels this is nothing.
      if (this.isLevelEnabled('debug')) this.debug(briefError(err), 'upstream call not made or abandoned')
      return
    }
    method.call(this, briefError(err), UPSTREAM_FAILED)
    return
  }
  method.apply(this, args)
}

export function createLogger (level: string, destination?: pino.DestinationStream): FastifyBaseLogger {
  return pino({
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    hooks: { logMethod },
  }, destination) as unknown as FastifyBaseLogger
}
