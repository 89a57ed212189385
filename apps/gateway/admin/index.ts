import Fastify, { type FastifyInstance } from 'fastify'
import type { GatewayContext } from '../context.ts'
import type { Generation } from '../generation.ts'
import errorsPlugin, { NotFound } from '../../../plugins/errors/index.ts'
import requestContextPlugin from '../../../plugins/request-context/index.ts'
import { baseFastifyOptions } from '../fastify-options.ts'
import { adminAuth } from './admin-auth.ts'
import { describeService } from './describe-services.ts'

export interface AdminDeps {
  ctx: GatewayContext
  current: () => Generation
}

// The admin port: health for orchestrators, metrics for Prometheus, the service API for ops.
export async function buildAdmin ({ ctx, current }: AdminDeps): Promise<FastifyInstance> {
  const admin = Fastify(baseFastifyOptions(ctx.logger))
  await admin.register(errorsPlugin)
  await admin.register(requestContextPlugin)

  admin.get('/livez', async () => ({ status: 'ok' }))
  admin.get('/readyz', async (_request, reply) => {
    const { listening, draining } = ctx.state
    if (draining || !listening) {
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
  })
  return admin
}
