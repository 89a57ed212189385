// What every sample service has in common: logger choice, /health and the fault switch.
import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { registerFaults } from './faults.ts'
import type { FaultOptions } from './faults.ts'

export interface ServiceOptions extends FaultOptions {
  logger?: boolean
}

export function createServiceApp (opts: ServiceOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ? { level: process.env.LOG_LEVEL ?? 'info' } : false,
  })
  registerFaults(app, opts)
  // Probed every few seconds by the gateway and the demo: not worth a log line each.
  app.get('/health', { logLevel: 'warn' }, async () => ({ status: 'ok' }))
  return app
}

function header (req: FastifyRequest, name: string): string | null {
  const value = req.headers[name]
  return typeof value === 'string' ? value : null
}

// What the gateway told us about the caller, echoed so a demo can show it.
export function requestInfo (req: FastifyRequest) {
  const scopes = header(req, 'x-consumer-scopes')
  return {
    consumer: header(req, 'x-consumer-id'),
    scopes: scopes ? scopes.split(' ').filter(Boolean) : [],
    requestId: header(req, 'x-request-id'),
    traceparent: header(req, 'traceparent'),
    forwarded: {
      for: header(req, 'x-forwarded-for'),
      proto: header(req, 'x-forwarded-proto'),
      host: header(req, 'x-forwarded-host'),
      prefix: header(req, 'x-forwarded-prefix'),
    },
  }
}

export function notFound (message: string) {
  return { statusCode: 404, error: 'Not Found', message }
}
