// A switch to make a sample service misbehave on demand, so the gateway's breaker,
// retries, timeouts and error metrics can be shown without touching the code.
import { setTimeout as sleepTimer } from 'node:timers/promises'
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'

export type FaultMode = 'error' | 'reset' | 'hang'

export interface FaultState {
  errorRate: number
  delayMs: number
  mode: FaultMode
}

export interface FaultOptions {
  // Injected so tests decide which request fails and when a delay ends.
  random?: () => number
  sleep?: (ms: number) => Promise<void>
}

const EXEMPT = new Set(['/health', '/__faults'])

const faultBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    errorRate: { type: 'number', minimum: 0, maximum: 1 },
    delayMs: { type: 'integer', minimum: 0, maximum: 600_000 },
    mode: { type: 'string', enum: ['error', 'reset', 'hang'] },
  },
} as const

const cleared = (): FaultState => ({ errorRate: 0, delayMs: 0, mode: 'error' })

function isExempt (req: FastifyRequest): boolean {
  const path = req.url.split('?', 1)[0]
  return EXEMPT.has(path)
}

export function registerFaults (app: FastifyInstance, opts: FaultOptions = {}): void {
  const random = opts.random ?? Math.random
  const sleep = opts.sleep ?? ((ms: number) => sleepTimer(ms).then(() => undefined))
  let state = cleared()
  // Hung sockets would keep close() waiting forever; they are cut at shutdown.
  const hung = new Set<Socket>()

  app.addHook('onRequest', async (req, reply) => {
    if (isExempt(req)) return
    const { errorRate, delayMs, mode } = state
    if (delayMs > 0) await sleep(delayMs)
    if (errorRate <= 0 || random() >= errorRate) return
    if (mode === 'error') {
      return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'injected fault' })
    }
    reply.hijack()
    const socket = req.raw.socket
    if (mode === 'reset') {
      socket.destroy()
      return
    }
    hung.add(socket)
    socket.once('close', () => hung.delete(socket))
  })

  app.addHook('preClose', async () => {
    for (const socket of hung) socket.destroy()
  })

  app.get('/__faults', async () => state)

  app.post<{ Body: Partial<FaultState> }>('/__faults', { schema: { body: faultBody } }, async (req) => {
    const body = req.body ?? {}
    // Naming a mode means "use it": without errorRate every request fails.
    const errorRate = body.errorRate ?? (body.mode ? 1 : 0)
    state = { errorRate, delayMs: body.delayMs ?? 0, mode: body.mode ?? 'error' }
    req.log.warn({ faults: state }, 'faults set')
    return state
  })

  app.delete('/__faults', async (req, reply) => {
    state = cleared()
    req.log.info('faults cleared')
    return reply.code(204).send()
  })
}
