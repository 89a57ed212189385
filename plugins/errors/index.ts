import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import * as E from './errors.ts'
import { buildProblem, PROBLEM_CONTENT_TYPE } from './problem.ts'

export * from './errors.ts'
export { buildProblem, PROBLEM_CONTENT_TYPE } from './problem.ts'

// Fastify's own client-side errors worth a precise answer; everything else that is a 4xx
// becomes GW_BAD_REQUEST, everything else a 500 whose cause stays in the log.
const FASTIFY_CODES: Record<string, (err: FastifyError) => E.GatewayError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new E.PayloadTooLarge('Request body is larger than the limit'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new E.BadRequest('Content-Length does not match the body'),
}

export function toGatewayError (err: unknown): E.GatewayError {
  if (E.isGatewayError(err)) return err
  const fe = err as FastifyError
  const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined
  if (mapped) return mapped(fe)
  const status = fe?.statusCode ?? 500
  if (status >= 400 && status < 500) return new E.BadRequest('The request is malformed')
  return new E.InternalError('The gateway failed to handle the request')
}

export function sendProblem (request: FastifyRequest, reply: FastifyReply, err: E.GatewayError) {
  const gw = request.gw
  if (gw) gw.code = err.code
  if (err.headers) reply.headers(err.headers)
  return reply
    .header('x-request-id', String(request.id))
    .code(err.statusCode)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send(buildProblem(err.statusCode, err.code, err.message, String(request.id), err.extensions))
}

async function errorsPlugin (app: FastifyInstance) {
  app.setErrorHandler(function gatewayErrorHandler (error, request, reply) {
    const gwError = toGatewayError(error)
    if (gwError.statusCode >= 500 && gwError !== error) {
      request.log.error({ err: error }, 'unhandled error')
    }
    return sendProblem(request, reply, gwError)
  })

  app.setNotFoundHandler(function gatewayNotFound (request, reply) {
    return sendProblem(request, reply, new E.NotFound('No service matches this path'))
  })
}

export default fp(errorsPlugin, { name: 'gatehouse-errors', fastify: '5.x' })
