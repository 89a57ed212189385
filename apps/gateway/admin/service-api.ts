import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../context.ts'
import type { Generation } from '../generation.ts'
import type { ChangeOutcome, Reloader } from '../reload/index.ts'
import { parseYaml } from '../config/index.ts'
import { Conflict, InternalError, InvalidConfig, NotFound, RegistryUnavailable, type GatewayError } from '../../../plugins/errors/index.ts'
import { describeService } from './describe-services.ts'

// PUT/DELETE /admin/services/:name. Registered inside the admin API scope, so the admin
// token check (admin-auth.ts) runs first; every attempt, refused ones too, is an audit line.

// A service definition is a few hundred bytes; an inline CA bundle a few KB.
export const DEFAULT_ADMIN_BODY_LIMIT = 64 * 1024
const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml', 'text/x-yaml']

export interface ServiceApiOptions {
  ctx: GatewayContext
  current: () => Generation
  reloader: Reloader
  bodyLimit?: number
}

function invalid (errors: string[]): GatewayError {
  const err = new InvalidConfig('The service definition is invalid') as GatewayError
  err.extensions = { errors }
  return err
}

function toError (outcome: Exclude<ChangeOutcome, { ok: true }>): GatewayError {
  switch (outcome.reason) {
    case 'invalid': return invalid(outcome.errors)
    case 'conflict': return new Conflict(outcome.message)
    case 'not-found': return new NotFound(outcome.message)
    case 'unavailable': return new RegistryUnavailable(outcome.message)
    default: return new InternalError(outcome.message)
  }
}

// Names the token without revealing it: after a rotation the audit trail shows which
// token made a change.
function tokenId (token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 8)
}

export async function serviceApi (api: FastifyInstance, opts: ServiceApiOptions) {
  const { ctx, current, reloader } = opts
  const bodyLimit = opts.bodyLimit ?? DEFAULT_ADMIN_BODY_LIMIT

  // Bodies are read whole (they are small and bounded) and parsed here, so a body that
  // is not JSON/YAML at all is the same 400 GW_INVALID_CONFIG as one that is invalid.
  api.removeAllContentTypeParsers()
  api.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, undefined)
    try {
      done(null, JSON.parse(body as string))
    } catch (err) {
      done(invalid([`body is not valid JSON: ${(err as Error).message}`]))
    }
  })
  api.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_request, body, done) => {
    const parsed = parseYaml(body as string)
    if (parsed.problems.length > 0) done(invalid(parsed.problems.map((p) => p.message)))
    else done(null, parsed.value)
  })
  api.addContentTypeParser('*', (_request, _payload, done) => {
    done(invalid(['content-type: must be application/json or application/yaml']))
  })

  api.addHook('onResponse', function auditChange (request: FastifyRequest, reply: FastifyReply, done) {
    const token = ctx.config.admin.token
    const refused = reply.statusCode === 401 || reply.statusCode === 403
    // Audit lines are written whatever the configured log level.
    request.log.child({}, { level: 'info' }).info({
      clientIp: request.ip,
      tokenId: refused || token === null ? null : tokenId(token),
      method: request.method,
      service: (request.params as { name?: string }).name ?? null,
      status: reply.statusCode,
    }, 'admin audit')
    done()
  })

  api.put<{ Params: { name: string } }>('/admin/services/:name', { bodyLimit }, async (request, reply) => {
    const { name } = request.params
    const outcome = await reloader.putService(name, request.body)
    if (!outcome.ok) throw toError(outcome)
    const svc = current().services.find((s) => s.name === name)
    if (svc === undefined) throw new InternalError('The service was saved but is not running')
    if (outcome.created) reply.code(201).header('location', `/admin/services/${name}`)
    return describeService(svc)
  })

  api.delete<{ Params: { name: string } }>('/admin/services/:name', { bodyLimit }, async (request, reply) => {
    const outcome = await reloader.deleteService(request.params.name)
    if (!outcome.ok) throw toError(outcome)
    return reply.code(204).send()
  })
}
