import http from 'node:http'
import type { AddressInfo } from 'node:net'
import closeWithGrace from 'close-with-grace'
import type { GatewayConfig } from './config/types.ts'
import { buildGateway, type Gateway, type BuildOptions } from './app.ts'
import { handleClientError } from '../../plugins/errors/client-error.ts'
import { reloadOnSighup } from './reload/index.ts'

export interface ListeningGateway {
  gateway: Gateway
  publicServer: http.Server
  publicUrl: string
  adminUrl: string
  // Stop accepting, let in-flight requests finish (bounded by timeouts.drain), close all.
  shutdown: () => Promise<void>
}

const MAX_HEADER_BYTES = 16384

export interface ListenOverrides {
  host?: string
  port?: number
  adminHost?: string
  adminPort?: number
}

export async function listenGateway (gateway: Gateway, overrides: ListenOverrides = {}): Promise<ListeningGateway> {
  const { server: s, admin } = gateway.ctx.config
  const publicServer = http.createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: s.timeouts.headersMs,
    // The whole request (headers and body) may take as long as an upstream call.
    requestTimeout: s.timeouts.headersMs + s.timeouts.upstreamMs,
    keepAliveTimeout: s.timeouts.keepAliveMs,
    connectionsCheckingInterval: Math.min(1000, s.timeouts.headersMs),
  }, gateway.handler)
  publicServer.maxConnections = s.maxConnections
  publicServer.on('clientError', handleClientError)
  // Past maxConnections Node closes new sockets at once; say so in the log, once a second.
  let lastDropLog = 0
  publicServer.on('drop', () => {
    const now = Date.now()
    if (now - lastDropLog > 1000) {
      lastDropLog = now
      gateway.ctx.logger.warn({ maxConnections: s.maxConnections }, 'connection refused: maxConnections reached')
    }
  })

  await new Promise<void>((resolve, reject) => {
    publicServer.once('error', reject)
    publicServer.listen(overrides.port ?? s.port, overrides.host ?? s.host, () => {
      publicServer.off('error', reject)
      resolve()
    })
  })
  const adminUrl = await gateway.admin.listen({ host: overrides.adminHost ?? admin.host, port: overrides.adminPort ?? admin.port })
  gateway.ctx.state.listening = true
  const addr = publicServer.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  const publicUrl = `http://${host}:${addr.port}`
  gateway.ctx.logger.info({ publicUrl, adminUrl, services: gateway.current().services.length }, 'gateway listening')

  let shuttingDown: Promise<void> | null = null
  async function drain () {
    const { logger } = gateway.ctx
    gateway.ctx.state.draining = true
    logger.info({ drainMs: s.timeouts.drainMs }, 'draining: no new connections, finishing in-flight requests')
    const closed = new Promise<void>((resolve) => publicServer.close(() => resolve()))
    // Keep-alive connections go as soon as they are idle; busy ones when their response ends.
    publicServer.closeIdleConnections()
    const sweep = setInterval(() => publicServer.closeIdleConnections(), 50)
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), s.timeouts.drainMs) })
    const cut = await Promise.race([closed.then(() => false), timedOut])
    clearInterval(sweep)
    clearTimeout(timer)
    if (cut) {
      logger.warn('drain timeout reached: cutting the remaining connections')
      publicServer.closeAllConnections()
      await closed
    }
    await gateway.close()
    logger.info('gateway stopped')
  }

  return {
    gateway,
    publicServer,
    publicUrl,
    adminUrl,
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
