import http from 'node:http'
import type https from 'node:https'
import type { AddressInfo } from 'node:net'
import closeWithGrace from 'close-with-grace'
import type { GatewayConfig } from './config/types.ts'
import { buildGateway, type Gateway, type BuildOptions } from './app.ts'
import { handleClientError } from '../../plugins/errors/client-error.ts'
import { reloadOnSighup, type ReloadEvent } from './reload/index.ts'
import { createPublicListener, httpServerOptions, tlsAwareClientError, type PublicServer } from './tls/public-listener.ts'
import { createRedirectHandler } from './tls/redirect.ts'
import { CertificateReloader } from './tls/cert-reloader.ts'

export interface ListeningGateway {
  gateway: Gateway
  publicServer: PublicServer
  // http:// or https:// (server.tls).
  publicUrl: string
  adminUrl: string
  // The plain-HTTP listener of server.httpRedirect (308 to https), when configured.
  redirectServer: http.Server | null
  redirectUrl: string | null
  // The egress port (plugins/egress) as http://host:port, null without an `egress` section.
  egressUrl: string | null
  // Re-reads server.tls on file change and SIGHUP; null without tls.
  certificates: CertificateReloader | null
  // Stop accepting, let in-flight requests finish (bounded by timeouts.drain), close all.
  shutdown: () => Promise<void>
}

export interface ListenOverrides {
  host?: string
  port?: number
  adminHost?: string
  adminPort?: number
  redirectPort?: number
  egressHost?: string
  egressPort?: number
}

function listen (server: PublicServer | http.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function urlOf (scheme: string, server: PublicServer | http.Server): string {
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return `${scheme}://${host}:${addr.port}`
}

export async function listenGateway (gateway: Gateway, overrides: ListenOverrides = {}): Promise<ListeningGateway> {
  const { server: s, admin } = gateway.ctx.config
  const { logger } = gateway.ctx
  // http, https, or HTTP/2 with HTTP/1.1 fallback (apps/gateway/tls/public-listener.ts).
  const listener = await createPublicListener({
    server: s, handler: gateway.handler, upgrade: gateway.upgrade, shouldUpgrade: gateway.shouldUpgrade, logger,
  })
  const publicServer = listener.server
  publicServer.maxConnections = s.maxConnections
  publicServer.on('clientError', listener.scheme === 'https' ? tlsAwareClientError(handleClientError) : handleClientError)
  // Past maxConnections Node closes new sockets at once; say so in the log, once a second.
  let lastDropLog = 0
  publicServer.on('drop', () => {
    const now = Date.now()
    if (now - lastDropLog > 1000) {
      lastDropLog = now
      logger.warn({ maxConnections: s.maxConnections }, 'connection refused: maxConnections reached')
    }
  })

  const host = overrides.host ?? s.host
  await listen(publicServer, overrides.port ?? s.port, host)
  const publicPort = (publicServer.address() as AddressInfo).port
  let redirectServer: http.Server | null = null
  if (s.httpRedirect !== null) {
    redirectServer = http.createServer(httpServerOptions(s), createRedirectHandler({ configuredHost: host, tlsPort: () => publicPort }))
    redirectServer.maxConnections = s.maxConnections
    redirectServer.on('clientError', handleClientError)
    try {
      await listen(redirectServer, overrides.redirectPort ?? s.httpRedirect.port, host)
    } catch (err) {
      publicServer.close()
      throw err
    }
  }
  const egress = gateway.egress
  const egressConfig = gateway.ctx.config.egress
  if (egress !== null && egressConfig !== null) {
    try {
      await listen(egress.server, overrides.egressPort ?? egressConfig.port, overrides.egressHost ?? egressConfig.host)
    } catch (err) {
      publicServer.close()
      redirectServer?.close()
      throw err
    }
  }
  const adminUrl = await gateway.admin.listen({ host: overrides.adminHost ?? admin.host, port: overrides.adminPort ?? admin.port })

  let certificates: CertificateReloader | null = null
  let onReload: ((event: ReloadEvent) => void) | null = null
  if (listener.certificate !== null && s.tls !== null) {
    const reloader = certificates = new CertificateReloader({
      server: publicServer as https.Server, tls: s.tls, current: listener.certificate, logger,
    })
    reloader.watch()
    // SIGHUP re-reads the certificate too, from the paths of the config now running.
    onReload = (event) => {
      if (event.trigger === 'sighup') void reloader.reload(gateway.ctx.config.server.tls ?? undefined, 'sighup')
    }
    gateway.reloader.on('reload', onReload)
  }

  gateway.ctx.state.listening = true
  const publicUrl = urlOf(listener.scheme, publicServer)
  const redirectUrl = redirectServer === null ? null : urlOf('http', redirectServer)
  const egressUrl = egress === null || !egress.server.listening ? null : urlOf('http', egress.server)
  logger.info({ publicUrl, redirectUrl: redirectUrl ?? undefined, egressUrl: egressUrl ?? undefined, http2: s.tls !== null && s.http2, adminUrl, services: gateway.current().services.length }, 'gateway listening')

  let shuttingDown: Promise<void> | null = null
  async function drain () {
    gateway.ctx.state.draining = true
    logger.info({ drainMs: s.timeouts.drainMs }, 'draining: no new connections, finishing in-flight requests')
    certificates?.close()
    if (onReload !== null) gateway.reloader.off('reload', onReload)
    const publicClosed = new Promise<void>((resolve) => publicServer.close(() => resolve()))
    // Egress requests finish; its tunnels run on until they end or the drain time is up.
    const closed = Promise.all([publicClosed, egress?.stopAccepting()]).then(() => {})
    // A redirect is answered at once: nothing there to wait for.
    const redirectClosed = redirectServer === null
      ? Promise.resolve()
      : new Promise<void>((resolve) => { redirectServer.close(() => resolve()); redirectServer.closeAllConnections() })
    // WebSocket peers get a Close (1001) and leave on their own.
    gateway.ctx.websockets.goingAway()
    // Keep-alive connections go as soon as they are idle (HTTP/2 sessions get a GOAWAY);
    // busy ones when their response ends.
    listener.closeIdle()
    const sweep = setInterval(() => { listener.closeIdle(); egress?.server.closeIdleConnections() }, 50)
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), s.timeouts.drainMs) })
    const cut = await Promise.race([closed.then(() => false), timedOut])
    clearInterval(sweep)
    clearTimeout(timer)
    if (cut) {
      logger.warn('drain timeout reached: cutting the remaining connections')
      listener.closeAll()
      gateway.ctx.websockets.destroyAll()
      egress?.cutAll()
      await closed
    }
    await redirectClosed
    await gateway.close()
    logger.info('gateway stopped')
  }

  return {
    gateway,
    publicServer,
    publicUrl,
    adminUrl,
    redirectServer,
    redirectUrl,
    egressUrl,
    certificates,
    shutdown: () => (shuttingDown ??= drain()),
  }
}

// The process entry: build, listen, reload on servicesDir changes and SIGHUP, drain on
// SIGTERM/SIGINT and exit 0.
export async function runServer (config: GatewayConfig, options: BuildOptions = {}): Promise<ListeningGateway> {
  const gateway = await buildGateway(config, options)
  // Before listening (a SIGHUP right after "gateway listening" must not find no listener,
  // which would kill the process), and kept while draining for the same reason.
  reloadOnSighup(gateway.reloader, gateway.ctx.logger)
  const running = await listenGateway(gateway)
  gateway.reloader.watch()
  // SIGHUP means reload here, not shutdown (close-with-grace handles it by default).
  closeWithGrace({ delay: config.server.timeouts.drainMs + 5000, logger: false, skip: ['SIGHUP'] }, async ({ signal, err }) => {
    if (err) gateway.ctx.logger.error({ err }, 'fatal error, shutting down')
    else gateway.ctx.logger.info({ signal }, 'shutdown requested')
    await running.shutdown()
  })
  return running
}
