import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { IpAccessConfig } from './schema.ts'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import type { ServiceCore } from '../../lib/config-types.ts'
import { Forbidden } from '../errors/errors.ts'
import { compileIpRules, isAllowed, type IpRules } from './ip-rules.ts'

export { compileIpRules, isAllowed, type IpRules } from './ip-rules.ts'

export interface IpAccessPluginOptions {
  // The gateway-wide lists (`ipAccess`), checked before any service's own.
  global: IpAccessConfig | null
  services: ReadonlyArray<ServiceRuntime<ServiceCore & { ipAccess: IpAccessConfig | null }>>
}

// Allow/deny CIDR lists (SPEC "Edge options": global `ipAccess` and per service), checked
// on the real client IP: request.ip is Fastify's trustProxy answer, the socket address or,
// behind a trusted proxy, the right-most X-Forwarded-For entry not in trustProxy, so a
// client cannot talk its way past a list by writing the header itself. The first policy
// hook: a refused client is answered 403 before auth, rate limits or CORS spend anything.
async function ipAccessPlugin (app: FastifyInstance, opts: IpAccessPluginOptions) {
  const global = compileIpRules(opts.global)
  const perService = new Map<ServiceRuntime, IpRules>()
  for (const svc of opts.services) {
    const rules = compileIpRules(svc.config.ipAccess)
    if (rules !== null) perService.set(svc, rules)
  }
  // Nothing configured: no hook, no per-request cost.
  if (global === null && perService.size === 0) return
  const checkServices = perService.size > 0

  app.addHook('onRequest', function checkIpAccess (request, _reply, done) {
    const svc = request.gw.service
    const rules = checkServices && svc !== null ? perService.get(svc) : undefined
    if (global === null && rules === undefined) return done()
    // request.ip is a getter that walks X-Forwarded-For behind a trusted proxy: read once.
    const ip = request.ip
    if (global !== null && !isAllowed(global, ip)) {
      done(new Forbidden('Your address is not allowed to use this gateway'))
      return
    }
    if (rules !== undefined && !isAllowed(rules, ip)) {
      done(new Forbidden('Your address is not allowed to use this service'))
      return
    }
    done()
  })
}

export default fp(ipAccessPlugin, { name: 'gatehouse-ip-access', fastify: '5.x', dependencies: ['gatehouse-request-context'] })
