import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Forbidden, Unauthorized } from '../../../plugins/errors/errors.ts'

// Compare digests so neither the content nor the length of the token leaks through timing.
function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export function tokenMatches (given: string | null, token: string): boolean {
  return given !== null && timingSafeEqual(digest(given), digest(token))
}

// `Authorization: Basic base64(user:password)`: the password, whatever the user name
// (a browser's login prompt asks for both).
function basicPassword (header: string): string | null {
  if (!/^basic /i.test(header)) return null
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon === -1 ? null : decoded.slice(colon + 1)
}

export interface AdminAuthOptions {
  // The status page: the token may also come as the HTTP Basic password, and a 401
  // asks the browser for it.
  basic?: boolean
}

export function adminAuth (getToken: () => string | null, opts: AdminAuthOptions = {}) {
  const challenge = opts.basic === true ? 'Basic realm="gatehouse"' : 'Bearer realm="gatehouse-admin"'
  return function checkAdminToken (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) {
    const token = getToken()
    if (token === null) {
      done(new Forbidden('The admin API is disabled: no admin.token is configured'))
      return
    }
    const header = request.headers.authorization
    let given: string | null = null
    if (typeof header === 'string') {
      if (header.startsWith('Bearer ')) given = header.slice(7)
      else if (opts.basic === true) given = basicPassword(header)
    }
    if (!tokenMatches(given, token)) {
      const err = new Unauthorized('A valid admin token is required')
      ;(err as unknown as { headers: Record<string, string> }).headers = { 'www-authenticate': challenge }
      done(err)
      return
    }
    done()
  }
}
