import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Forbidden, Unauthorized } from '../../../plugins/errors/errors.ts'

// Compare digests so neither the content nor the length of the token leaks through timing.
function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export function adminAuth (getToken: () => string | null) {
  return function checkAdminToken (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) {
    const token = getToken()
    if (token === null) {
      done(new Forbidden('The admin API is disabled: no admin.token is configured'))
      return
    }
    const header = request.headers.authorization
    const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : null
    if (given === null || !timingSafeEqual(digest(given), digest(token))) {
      const err = new Unauthorized('A valid admin token is required')
      ;(err as unknown as { headers: Record<string, string> }).headers = { 'www-authenticate': 'Bearer realm="gatehouse-admin"' }
      done(err)
      return
    }
    done()
  }
}
