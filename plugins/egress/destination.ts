import { isIP } from 'node:net'

// Where a request wants to go, read from the CONNECT target or the absolute-form URL,
// with the host in the one canonical form the allow-list and the address checks see:
// WHATWG URL host parsing lower-cases names, applies IDNA, decodes %xx, and turns every
// IPv4 spelling (127.1, 2130706433, 0x7f.1, 0177.0.0.1) into dotted decimal; an
// IPv4-mapped IPv6 literal ([::ffff:7f00:1]) is the IPv4 address it carries.

export interface Destination {
  host: string // canonical; IPv6 without brackets
  port: number
  ip: 0 | 4 | 6 // isIP(host): a literal needs no lookup
}

// A CONNECT authority's host before canonicalisation: a name (letters, digits, - _ .,
// % for the encoded forms URL parsing decodes) or a bracketed IPv6 literal. Anything
// else (userinfo, a path, spaces, backslashes) is a malformed target, never parsed.
const NAME = /^[A-Za-z0-9._%-]+$/
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/
const PORT = /^[0-9]{1,5}$/

// ::ffff:a.b.c.d (URL parsing prints it as ::ffff:7f00:1) is IPv4.
function unmapped (v6: string): string {
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6)
  if (m === null) return v6
  const hi = parseInt(m[1]!, 16)
  const lo = parseInt(m[2]!, 16)
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
}

// The canonical form of a host as written in a URL authority or a config entry, or null
// when it is no valid host. A trailing dot is ignored ("example.com." is example.com).
export function canonicalHost (raw: string): string | null {
  if (raw === '' || raw.length > 255) return null
  let hostname: string
  try {
    // A bare IPv6 address (a config entry's `::1`) is bracketed as in a URL.
    hostname = new URL(`http://${isIP(raw) === 6 ? `[${raw}]` : raw}/`).hostname
  } catch {
    return null
  }
  if (hostname.startsWith('[')) return unmapped(hostname.slice(1, -1))
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1)
  return hostname === '' || hostname.includes('..') ? null : hostname
}

function portOf (raw: string): number | null {
  if (!PORT.test(raw)) return null
  const n = Number(raw)
  return n >= 1 && n <= 65535 ? n : null
}

function destination (host: string, port: number): Destination {
  return { host, port, ip: isIP(host) as 0 | 4 | 6 }
}

// `CONNECT host:port` (RFC 9110 9.3.6: the authority form, port required).
export function connectTarget (target: string): Destination | null {
  const colon = target.lastIndexOf(':')
  if (colon <= 0) return null
  const rawHost = target.slice(0, colon)
  const port = portOf(target.slice(colon + 1))
  if (port === null) return null
  if (!NAME.test(rawHost) && !IPV6_LITERAL.test(rawHost)) return null
  const host = canonicalHost(rawHost)
  return host === null ? null : destination(host, port)
}

export interface AbsoluteTarget extends Destination {
  // What goes upstream: origin-form path and query, and the Host header (the URL's own
  // authority: the URL wins over any Host header the client sent).
  path: string
  hostHeader: string
}

// `GET http://host[:port]/path` (plain HTTP only: https goes through CONNECT).
export function absoluteTarget (url: string): AbsoluteTarget | null {
  if (!/^http:\/\//i.test(url)) return null
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return null
  }
  const port = u.port === '' ? 80 : Number(u.port)
  const host = canonicalHost(u.hostname)
  if (host === null || port < 1) return null
  return { ...destination(host, port), path: `${u.pathname}${u.search}`, hostHeader: u.host }
}
