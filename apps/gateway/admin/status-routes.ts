import type { FastifyInstance } from 'fastify'
import type { GatewayContext } from '../context.ts'
import type { Generation } from '../generation.ts'
import type { Reloader } from '../reload/index.ts'
import { adminAuth } from './admin-auth.ts'
import { buildStatus, packageVersion, type StatusProviders } from './status.ts'
import { renderStatusPage, STATUS_CSP } from './status-page.ts'

// GET /status (HTML) and /status.json on the admin port. The admin token as Bearer, or
// as the Basic password so a browser's own prompt logs in (a 401 asks for Basic).

export interface StatusRoutesOptions {
  ctx: GatewayContext
  current: () => Generation
  reloader: Reloader
  providers?: StatusProviders
}

export async function statusRoutes (scope: FastifyInstance, opts: StatusRoutesOptions) {
  const { ctx, current, reloader } = opts
  const sources = {
    ctx,
    current,
    lastReload: () => reloader.lastReload(),
    providers: opts.providers ?? {},
    startedAt: new Date(),
    version: packageVersion(),
  }
  scope.addHook('onRequest', adminAuth(() => ctx.config.admin.token, { basic: true }))
  // Live state, internal addresses: never cached, never framed.
  scope.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
  })
  scope.get('/status.json', async () => buildStatus(sources))
  scope.get('/status', async (_request, reply) => {
    const html = renderStatusPage(await buildStatus(sources))
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', STATUS_CSP)
      .header('x-frame-options', 'DENY')
      .send(html)
  })
}
