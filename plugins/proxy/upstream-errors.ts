import * as E from '../errors/errors.ts'

export type UpstreamErrorKind = 'timeout' | 'refused' | 'reset' | 'malformed' | 'aborted'

// Transport failures, classified once for the status the client gets, the metrics
// label and the retry decision. `cause` stays in logs; clients get the generic detail.
const KIND_BY_CODE: Record<string, UpstreamErrorKind> = {
  ECONNREFUSED: 'refused',
  ENOTFOUND: 'refused',
  EAI_AGAIN: 'refused',
  EHOSTUNREACH: 'refused',
  ENETUNREACH: 'refused',
  EADDRNOTAVAIL: 'refused',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  UND_ERR_ABORTED: 'aborted',
  ABORT_ERR: 'aborted',
  UND_ERR_INFO: 'malformed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'malformed',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'malformed',
  UND_ERR_HEADERS_OVERFLOW: 'malformed',
}

export function rootCause (err: unknown): unknown {
  let e = err as { cause?: unknown } | undefined
  // reply-from wraps transport errors; our own GW_* errors may sit underneath.
  for (let depth = 0; depth < 5 && e && typeof e === 'object' && e.cause !== undefined; depth++) {
    if (E.isGatewayError(e)) return e
    e = e.cause as { cause?: unknown }
  }
  return e
}

export function classify (err: unknown): UpstreamErrorKind {
  const raw = (err as { code?: unknown } | undefined)?.code
  const code = typeof raw === 'string' ? raw : ''
  const known = KIND_BY_CODE[code]
  if (known !== undefined) return known
  if (code.startsWith('HPE_') || (err as Error | undefined)?.name === 'HTTPParserError') return 'malformed'
  if ((err as Error | undefined)?.name === 'AbortError') return 'aborted'
  return 'reset'
}

export function toClientError (kind: UpstreamErrorKind): E.GatewayError {
  switch (kind) {
    case 'timeout': return new E.UpstreamTimeout('The upstream service did not answer in time')
    case 'refused': return new E.BadGateway('The upstream service could not be reached')
    case 'malformed': return new E.BadGateway('The upstream service sent an invalid response')
    default: return new E.BadGateway('The upstream service closed the connection')
  }
}
