import type { Dispatcher } from 'undici'

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

// The request never left the gateway: no connection to send it on.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT'])

// The connection broke before a response (a reused keep-alive socket the upstream closed
// under us, a crashed upstream). undici reports these in the request callback only
// when no complete response head arrived; a reset after the headers surfaces on the body
// stream instead and never reaches the retry decision. Timeouts are not here: the
// upstream had the request and may still act on it. UND_ERR_CLOSED is the gateway
// closing its own agent.
const RESET_BEFORE_RESPONSE = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

// SPEC `retries`: only idempotent methods (never POST/PATCH), never once the upstream
// answered (a response of any status, 503 included, never gets here), only when the
// request never left or the connection broke before a response, and only without a
// body: the body is streamed, and what the first attempt consumed cannot be replayed.
export function isRetryable (opts: Dispatcher.RequestOptions, err: Error, attemptsMade: number, retries: number): boolean {
  if (attemptsMade > retries) return false
  if (!IDEMPOTENT.has(opts.method)) return false
  if (opts.body !== undefined && opts.body !== null && opts.body !== '') return false
  if (opts.signal !== undefined && opts.signal !== null && (opts.signal as AbortSignal).aborted) return false
  const code = (err as { code?: string }).code ?? ''
  return NOT_SENT.has(code) || RESET_BEFORE_RESPONSE.has(code)
}
