import { ServerResponse, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { ServiceRuntime } from '../../lib/service-runtime.ts'
import { normalizeTarget } from '../proxy/normalize-path.ts'

// An HTTP upgrade reaches the public server as its 'upgrade' event (socket + head), not
// as a request. The gateway routes it through the current generation like any request,
// with a ServerResponse written straight to the socket, so it passes every onRequest
// hook (ip access, auth, rate limit) and a refusal is a normal HTTP answer (401, 403,
// 429, ...), after which the connection is closed. Only the websocket hook of a
// `websocket: true` service (plugins/websocket) turns it into a tunnel.

export const kUpgrade = Symbol('gatehouse.upgrade')

export interface PendingUpgrade {
  socket: Duplex
  head: Buffer
  // Set once the 101 is being written: the socket now belongs to the tunnel.
  upgraded: boolean
}

export type UpgradeRequest = IncomingMessage & { [kUpgrade]?: PendingUpgrade }

function endAfterAnswer (this: ServerResponse) {
  const pending = (this.req as UpgradeRequest)[kUpgrade]
  if (pending !== undefined && !pending.upgraded) (pending.socket as Duplex & { destroySoon?: () => void }).destroySoon?.()
}

function destroyOnError (this: Duplex) {
  this.destroy()
}

// The response object for an upgrade request; route `req` with it. Null when the
// connection still owes the answer to a request pipelined before the upgrade (Node emits
// the upgrade anyway): such a client is not served, its connection is closed.
export function upgradeResponse (req: IncomingMessage, socket: Duplex, head: Buffer): ServerResponse | null {
  if ((socket as Duplex & { _httpMessage?: unknown })._httpMessage != null) {
    socket.destroy()
    return null
  }
  ;(req as UpgradeRequest)[kUpgrade] = { socket, head, upgraded: false }
  // A reset before the tunnel exists must not be an unhandled 'error'.
  socket.on('error', destroyOnError)
  const res = new ServerResponse(req)
  // An answer that is not a 101 ends the exchange: the connection is not reused.
  res.shouldKeepAlive = false
  res.assignSocket(socket as never)
  res.on('finish', endAfterAnswer)
  return res
}

export function isWebSocketUpgrade (req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade
  return req.method === 'GET' && typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket'
}

interface PrefixEntry { prefix: string, websocket: boolean }
const tables = new WeakMap<readonly ServiceRuntime[], PrefixEntry[]>()

// Whether an upgrade request targets a `websocket: true` service (the longest prefix on a
// path boundary, as the router matches). Node asks this before emitting 'upgrade'
// (shouldUpgradeCallback): any other upgrade is served as an ordinary request, its
// Upgrade header dropped like every hop-by-hop header.
export function acceptsWebSocket (services: readonly ServiceRuntime[], req: IncomingMessage): boolean {
  if (!isWebSocketUpgrade(req)) return false
  let table = tables.get(services)
  if (table === undefined) {
    table = services.map((s) => ({ prefix: s.config.prefix, websocket: s.config.websocket }))
      .sort((a, b) => b.prefix.length - a.prefix.length)
    tables.set(services, table)
  }
  if (!table.some((e) => e.websocket)) return false
  const target = normalizeTarget(req.url ?? '/')
  if ('error' in target) return false
  const q = target.url.indexOf('?')
  const path = q === -1 ? target.url : target.url.slice(0, q)
  for (const e of table) {
    if (path === e.prefix || path.startsWith(e.prefix.endsWith('/') ? e.prefix : e.prefix + '/')) return e.websocket
  }
  return false
}
