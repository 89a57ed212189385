// Runs a sample service as a process: PORT/HOST from the environment, graceful stop.
import type { FastifyInstance } from 'fastify'

const FORCE_EXIT_MS = 10_000

export async function serve (app: FastifyInstance, defaultPort: number): Promise<void> {
  const port = Number(process.env.PORT ?? defaultPort)
  const host = process.env.HOST ?? '127.0.0.1'
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid PORT ${JSON.stringify(process.env.PORT)}`)
    process.exit(2)
  }

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down')
    // A slow fault delay must not keep the process alive past a supervisor's patience.
    setTimeout(() => process.exit(1), FORCE_EXIT_MS).unref()
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'close failed')
        process.exit(1)
      }
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))

  try {
    await app.listen({ port, host })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE') console.error(`port ${port} on ${host} is already in use`)
    else console.error(err)
    process.exit(1)
  }
}
