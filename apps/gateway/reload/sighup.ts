import type { FastifyBaseLogger } from 'fastify'
import type { Reloader } from './reloader.ts'

// SIGHUP re-reads the main config file and servicesDir (SPEC.md, Operations). Returns
// the function that stops listening, called on shutdown.
export function reloadOnSighup (reloader: Reloader, logger: FastifyBaseLogger): () => void {
  function onSighup () {
    logger.info({ signal: 'SIGHUP' }, 'reloading config')
    // A rejected config is reported by the reloader (error log, metric); this only
    // catches a bug, which must not take the process down.
    reloader.reload('sighup').catch((err: unknown) => logger.error({ err }, 'config reload crashed'))
  }
  process.on('SIGHUP', onSighup)
  return () => { process.off('SIGHUP', onSighup) }
}
