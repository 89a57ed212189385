import { LogController, type FastifyBaseLogger, type FastifyServerOptions } from 'fastify'
import { frameworkResponse, requestIdFor } from '../../plugins/request-context/index.ts'
import { sendProblem, BadRequest } from '../../plugins/errors/index.ts'
import { GatewayLogger } from './request-logger.ts'

// Options shared by the public generations and the admin instance: our logger, our request
// ids, no per-request log lines from Fastify (the access log is ours), and problem+json
// for the errors Fastify raises before any hook runs (e.g. an undecodable URL).
export function baseFastifyOptions (logger: FastifyBaseLogger): FastifyServerOptions & { loggerInstance: FastifyBaseLogger } {
  return {
    // Request loggers are made on first use (request-logger.ts).
    loggerInstance: new GatewayLogger(logger) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestIdFor,
    frameworkErrors (_error, request, reply) {
      // No hook runs for these: metrics and the access log are told directly.
      frameworkResponse(request, reply)
      sendProblem(request, reply, new BadRequest('The request target is malformed'))
    },
  }
}
