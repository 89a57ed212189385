import createError from '@fastify/error'

// Every error the gateway itself answers with. The code is the contract (SPEC.md);
// the message is the problem+json `detail` and must never carry upstream addresses.
export const BadRequest = createError('GW_BAD_REQUEST', '%s', 400)
export const Unauthorized = createError('GW_UNAUTHORIZED', '%s', 401)
export const Forbidden = createError('GW_FORBIDDEN', '%s', 403)
// Egress (plugins/egress): the forward proxy's own answers.
export const ProxyAuthRequired = createError('GW_PROXY_AUTH_REQUIRED', '%s', 407)
export const EgressDenied = createError('GW_EGRESS_DENIED', '%s', 403)
export const EgressPrivateAddress = createError('GW_EGRESS_PRIVATE_ADDRESS', '%s', 403)
export const NotFound = createError('GW_NOT_FOUND', '%s', 404)
export const RequestTimeout = createError('GW_REQUEST_TIMEOUT', '%s', 408)
export const Conflict = createError('GW_CONFLICT', '%s', 409)
export const PayloadTooLarge = createError('GW_PAYLOAD_TOO_LARGE', '%s', 413)
export const HeadersTooLarge = createError('GW_HEADERS_TOO_LARGE', '%s', 431)
export const RateLimited = createError('GW_RATE_LIMITED', '%s', 429)
export const InvalidConfig = createError('GW_INVALID_CONFIG', '%s', 400)
export const InternalError = createError('GW_INTERNAL_ERROR', '%s', 500)
export const BadGateway = createError('GW_BAD_GATEWAY', '%s', 502)
export const RateLimitUnavailable = createError('GW_RATE_LIMIT_UNAVAILABLE', '%s', 503)
export const CircuitOpen = createError('GW_CIRCUIT_OPEN', '%s', 503)
export const RegistryUnavailable = createError('GW_REGISTRY_UNAVAILABLE', '%s', 503)
export const NoHealthyUpstream = createError('GW_NO_HEALTHY_UPSTREAM', '%s', 503)
export const UpstreamTimeout = createError('GW_UPSTREAM_TIMEOUT', '%s', 504)

export const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

export interface GatewayError extends Error {
  code: string
  statusCode: number
  // Extra members of the problem document (e.g. `errors` for GW_INVALID_CONFIG).
  extensions?: Record<string, unknown>
  // Response headers that belong to the error (Retry-After, WWW-Authenticate).
  headers?: Record<string, string>
}

export function isGatewayError (err: unknown): err is GatewayError {
  return err instanceof Error && typeof (err as GatewayError).code === 'string' &&
    (err as GatewayError).code.startsWith('GW_')
}

export function withHeaders<T extends Error> (err: T, headers: Record<string, string>): T {
  (err as unknown as GatewayError).headers = headers
  return err
}
