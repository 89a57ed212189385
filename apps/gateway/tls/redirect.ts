import { isIP } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'

// The plain-HTTP listener of `server.httpRedirect`: every request gets
// `308 Location: https://<host>[:<tls port>]<path and query>` (308 keeps the method and
// body, unlike 301). The client's Host is used only when it is a well-formed host name
// or IP literal (a port in it is replaced by the TLS port); otherwise the configured
// `server.host`, or the address the client connected to when that is a wildcard. Nothing
// the client sends can put another scheme, credentials or a second authority in the URL.

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/

// The host part of a Host header value (no port), or null when it is not a plain host.
export function safeHost (value: string | undefined): string | null {
  if (value === undefined || value === '') return null
  let host = value
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    if (end === -1) return null
    const rest = host.slice(end + 1)
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null
    host = host.slice(0, end + 1)
    // No zone id (`%eth0`): it means nothing to another host and `%` would start an escape.
    const ip = host.slice(1, -1)
    return /^[0-9A-Fa-f:.]+$/.test(ip) && isIP(ip) === 6 ? host : null
  }
  const colon = host.indexOf(':')
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return null
    host = host.slice(0, colon)
  }
  return HOSTNAME.test(host) || isIP(host) === 4 ? host : null
}

function isWildcard (host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]'
}

function literal (address: string): string {
  if (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4) return address.slice(7)
  return isIP(address) === 6 ? `[${address}]` : address
}

function pathOf (url: string | undefined): string {
  if (url === undefined || url === '') return '/'
  if (url.startsWith('/')) return url
  // absolute-form (`GET http://host/path`): only its path and query count.
  try {
    const u = new URL(url)
    return u.pathname + u.search
  } catch {
    return '/'
  }
}

export interface RedirectOptions {
  configuredHost: string // server.host
  // The port clients reach TLS on (the bound public port).
  tlsPort: () => number
}

export function redirectLocation (req: IncomingMessage, opts: RedirectOptions): string {
  let host = safeHost(req.headers.host)
  if (host === null) {
    host = !isWildcard(opts.configuredHost)
      ? (isIP(opts.configuredHost) === 6 ? `[${opts.configuredHost}]` : opts.configuredHost)
      : literal(req.socket.localAddress ?? '127.0.0.1')
  }
  const port = opts.tlsPort()
  return `https://${host}${port === 443 ? '' : `:${port}`}${pathOf(req.url)}`
}

export function createRedirectHandler (opts: RedirectOptions) {
  return function redirectToHttps (req: IncomingMessage, res: ServerResponse) {
    // A body is not read: the client sends it again to the https URL (308).
    res.writeHead(308, { location: redirectLocation(req, opts), 'content-length': '0' })
    res.end()
  }
}
