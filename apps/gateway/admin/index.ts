import Fastify, { type FastifyInstance } from 'fastify'
import type { GatewayContext } from '../context.ts'
import type { Generation } from '../generation.ts'
import errorsPlugin, { NotFound } from '../../../plugins/errors/index.ts'
import requestContextPlugin from '../../../plugins/request-context/index.ts'
import { baseFastifyOptions } from '../fastify-options.ts'
import { adminAuth } from './admin-auth.ts'
import { describeService } from './describe-services.ts'
import { serviceApi } from './service-api.ts'
import { statusRoutes } from './status-routes.ts'
import type { StatusProviders } from './status.ts'
import type { Reloader } from '../reload/index.ts'

export type { EgressStatus, StatusProviders, StatusSnapshot } from './status.ts'

export interface AdminDeps {
  ctx: GatewayContext
  current: () => Generation
  // Applies PUT/DELETE /admin/services changes (apps/gateway/reload).
  reloader: Reloader
  // Status page parts owned elsewhere (egress); absent = shown as not configured.
  status?: StatusProviders
}

// The admin port: health for orchestrators, metrics for Prometheus, the service API and
// the status page for ops.
export async function buildAdmin ({ ctx, current, reloader, status }: AdminDeps): Promise<FastifyInstance> {
  const admin = Fastify(baseFastifyOptions(ctx.logger))
  await admin.register(errorsPlugin)
  await admin.register(requestContextPlugin)

  // Prometheus scrape: no token (SPEC.md, Admin port); this gateway's registry only.
  admin.get('/metrics', async (_request, reply) => {
    const { registry } = ctx.metrics
    reply.header('content-type', registry.contentType)
    return registry.metrics()
  })
  admin.get('/livez', async () => ({ status: 'ok' }))
  admin.get('/readyz', async (_request, reply) => {
    const { listening, draining } = ctx.state
    // A cluster instance is ready once it serves the registry's services too (SPEC "Cluster").
    if (draining || !listening || !reloader.registryLoaded) {
      return reply.code(503).send({ status: draining ? 'draining' : 'starting' })
    }
    return { status: 'ready' }
  })

  await admin.register(async function adminApi (api) {
    api.addHook('onRequest', adminAuth(() => ctx.config.admin.token))
    api.get('/admin/services', async () => ({ services: current().services.map(describeService) }))
    api.get<{ Params: { name: string } }>('/admin/services/:name', async (request) => {
      const svc = current().services.find((s) => s.name === request.params.name)
      if (svc === undefined) throw new NotFound(`No service named "${request.params.name}"`)
      return describeService(svc)
    })
    await api.register(serviceApi, { ctx, current, reloader })
  })
  // The status page (HTML and JSON), for people: same token, Basic accepted too.
  await admin.register(statusRoutes, { ctx, current, reloader, providers: status })
  return admin
}
