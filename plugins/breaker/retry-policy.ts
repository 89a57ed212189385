import type { Dispatcher } from 'undici'

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

// The connection failed before the request could be sent: nothing to connect to, or the
// connection broke while it was set up (a reset during the TLS handshake). Timeouts are
// not here: the budget is spent. UND_ERR_CLOSED is the gateway closing its own agent.
const CONNECTION_FAILED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

// SPEC `retries`: only idempotent methods (never POST/PATCH), only when the connection
// failed before the request was sent (`sent`: undici had dispatched it on a socket). Once
// sent, a reset means the upstream may have acted on it, and an answer of any status (503
// included) never gets here. A keep-alive socket the upstream closed while idle is not a
// failure at all: undici sends the request on a new connection. Only without a body: the
// body is streamed, and what the first attempt consumed cannot be replayed.
export function isRetryable (opts: Pick<Dispatcher.RequestOptions<unknown>, 'method' | 'body' | 'signal'>, err: Error, sent: boolean, attemptsMade: number, retries: number): boolean {
  if (sent) return false
  if (attemptsMade > retries) return false
  if (!IDEMPOTENT.has(opts.method)) return false
  if (opts.body !== undefined && opts.body !== null && opts.body !== '') return false
  if (opts.signal !== undefined && opts.signal !== null && (opts.signal as AbortSignal).aborted) return false
  return CONNECTION_FAILED.has((err as { code?: string }).code ?? '')
}
