// Longer than our ~250-line rule: the two request forms share one admission path (identity,
// limit, allow-list, addresses) and one accounting path (metrics, access log, tunnel
// bytes); kept together so the order SPEC fixes reads top to bottom in one place.
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts'
import type { KeySource } from '../auth/keys.ts'
import type { RateLimitStore } from '../rate-limit/store.ts'
import { BadRequest, EgressDenied, ProxyAuthRequired, withHeaders, type GatewayError } from '../errors/errors.ts'
import { handleClientError } from '../errors/client-error.ts'
import { randomHex } from '../request-context/random-hex.ts'
import { absoluteTarget, connectTarget, type Destination } from './destination.ts'
import { compileEgressPolicy, type CompiledEgressPolicy } from './policy.ts'
import { createProxyAuthenticator, PROXY_CHALLENGE } from './identity.ts'
import { createEgressLimiter } from './rate-limit.ts'
import { checkedAddresses, connectChecked, systemLookup, type EgressLookup } from './connect.ts'
import { openTunnel, type OpenTunnel } from './tunnel.ts'
import { DestinationReads } from './destination-reads.ts'
import { createForwardAgent, forward } from './forward.ts'
import { answerResponse, answerSocket } from './answer.ts'
import type { EgressAllowEntry, EgressConfig } from './schema.ts'

export type { EgressConfig } from './schema.ts'
export type { EgressLookup } from './connect.ts'

// The egress port (SPEC "Egress: the forward proxy"): a plain node:http server whose
// 'connect' event opens tunnels and whose 'request' event forwards absolute-form HTTP.
// Each request passes, in this order: its form (400), identity (407, before anything
// about the allow-list shows), egress.rateLimit (429), the allow-list and scopes (403),
// the resolved addresses (403), the connection (502/504).

export interface EgressOptions {
  // The running `egress` section (read per request: SIGHUP swaps allow, removeHeaders
  // and rateLimit in; the policy is compiled once per section object).
  settings: () => EgressConfig
  keys: KeySource | null
  metrics: GatewayMetrics
  logger: FastifyBaseLogger
  accessLog: () => boolean
  store: () => RateLimitStore | null
  onStoreError: () => 'local' | 'deny' | 'allow'
  lookup?: EgressLookup
}

export interface EgressProxy {
  server: http.Server
  readonly tunnels: number
  // The open tunnels by allow entry (the `destination` of the metrics), for the status page.
  openTunnels: () => Array<{ host: string, tunnels: number }>
  // Stop accepting; in-flight requests finish, tunnels run on until cut.
  stopAccepting: () => Promise<void>
  // Cuts every open tunnel and connection.
  cutAll: () => void
}

interface Admission {
  policy: CompiledEgressPolicy
  entry: EgressAllowEntry
  addresses: string[]
  consumer: string | null
}

const DENIED = 'denied'
const BYTES_FLUSH_MS = 1000

function clientIp (socket: Duplex & { remoteAddress?: string }): string {
  return socket.remoteAddress ?? ''
}

function deniedErr (detail: string): GatewayError {
  return new EgressDenied(detail)
}

export function createEgressProxy (opts: EgressOptions): EgressProxy {
  const { metrics, logger } = opts
  const lookup = opts.lookup ?? systemLookup
  const authenticator = createProxyAuthenticator(opts.keys)
  const limit = createEgressLimiter({ store: opts.store, onStoreError: opts.onStoreError })
  // Pooled keep-alive connections to destinations (keyed by checked address and port).
  const agent = createForwardAgent(opts.settings().timeouts.connectMs)
  // Open tunnels and the bytes of each already counted in gatehouse_egress_bytes_total:
  // counted once a second (and at the end), not per chunk.
  const tunnels = new Map<OpenTunnel, { destination: string, up: number, down: number }>()
  let flusher: NodeJS.Timeout | null = null
  function flushBytes (tunnel: OpenTunnel) {
    const seen = tunnels.get(tunnel)
    if (seen === undefined) return
    const now = tunnel.bytes()
    if (now.up > seen.up) metrics.egressBytes.labels({ destination: seen.destination, direction: 'up' }).inc(now.up - seen.up)
    if (now.down > seen.down) metrics.egressBytes.labels({ destination: seen.destination, direction: 'down' }).inc(now.down - seen.down)
    seen.up = now.up
    seen.down = now.down
  }
  let compiled: CompiledEgressPolicy | null = null

  function currentPolicy (): CompiledEgressPolicy {
    const settings = opts.settings()
    if (compiled === null || compiled.config !== settings) compiled = compileEgressPolicy(settings)
    return compiled
  }

  // Identity, rate limit, allow-list, addresses: the admission or the answer to give.
  async function admit (dest: Destination, proxyAuth: string | undefined, ip: string): Promise<Admission | { error: GatewayError, destination: string, consumer: string | null }> {
    const policy = currentPolicy()
    const config = policy.config
    let consumer: string | null = null
    let scopes: ReadonlySet<string> = new Set()
    if (config.auth === 'required') {
      const verdict = await authenticator.verify(proxyAuth)
      if ('refused' in verdict) {
        return { error: withHeaders(new ProxyAuthRequired(verdict.refused), { 'Proxy-Authenticate': PROXY_CHALLENGE }), destination: DENIED, consumer }
      }
      consumer = verdict.identity.consumer
      scopes = verdict.identity.scopeSet
    }
    const entry = policy.match(dest)
    const destination = entry?.host ?? DENIED
    if (config.rateLimit !== null) {
      const limited = await limit(config.rateLimit, consumer, ip)
      if (limited !== null) return { error: limited, destination, consumer }
    }
    if (entry === null) return { error: deniedErr('No egress allow entry matches this destination'), destination, consumer }
    for (const s of entry.scopes) {
      if (!scopes.has(s)) return { error: deniedErr(`The token lacks a scope this destination needs (needs: ${entry.scopes.join(' ')})`), destination, consumer }
    }
    const addresses = await checkedAddresses(dest, policy.addresses, lookup)
    if (!Array.isArray(addresses)) return { error: addresses, destination, consumer }
    return { policy, entry, addresses, consumer }
  }

  interface Done {
    method: string
    dest: Destination | null
    destination: string
    consumer: string | null
    status: number
    code?: string
    startMs: number
    bytesUp: number
    bytesDown: number
    ip: string
    requestId: string
  }

  function counted (destination: string, method: string, status: number) {
    metrics.egressRequests.labels({ destination, method, code: String(status) }).inc()
  }

  // One access-log line per tunnel (at its end) or request: never a path or header value.
  function logLine (d: Done) {
    if (!opts.accessLog()) return
    logger.info({
      egress: true,
      reqId: d.requestId,
      method: d.method,
      destination: d.dest === null ? null : `${d.dest.ip === 6 ? `[${d.dest.host}]` : d.dest.host}:${d.dest.port}`,
      consumer: d.consumer,
      status: d.status,
      ...(d.code !== undefined ? { code: d.code } : {}),
      durationMs: Math.round((performance.now() - d.startMs) * 1000) / 1000,
      bytesUp: d.bytesUp,
      bytesDown: d.bytesDown,
      clientIp: d.ip,
    }, 'egress')
  }

  function byteCounters (destination: string) {
    const up = metrics.egressBytes.labels({ destination, direction: 'up' })
    const down = metrics.egressBytes.labels({ destination, direction: 'down' })
    return { onUp: (n: number) => up.inc(n), onDown: (n: number) => down.inc(n) }
  }

  // A refusal is counted and logged like any answer (the caller writes it first).
  function refused (done: Done, err: GatewayError) {
    done.status = err.statusCode
    done.code = err.code
    counted(done.destination, done.method, err.statusCode)
    logLine(done)
  }

  // Who asked and which allow entry matched, known as far as admission got.
  function admitted (done: Done, admission: Awaited<ReturnType<typeof admit>>) {
    done.destination = 'error' in admission ? admission.destination : admission.entry.host
    done.consumer = admission.consumer
  }

  async function onConnect (req: IncomingMessage, socket: Duplex, head: Buffer) {
    const startMs = performance.now()
    const requestId = randomHex(16)
    const ip = clientIp(socket)
    const done: Done = { method: 'CONNECT', dest: null, destination: DENIED, consumer: null, status: 0, startMs, bytesUp: 0, bytesDown: 0, ip, requestId }
    socket.on('error', () => socket.destroy())
    const refuse = (err: GatewayError) => {
      answerSocket(socket, err, requestId)
      refused(done, err)
    }
    const dest = connectTarget(req.url ?? '')
    if (dest === null) return refuse(new BadRequest('The CONNECT target must be host:port'))
    done.dest = dest
    const admission = await admit(dest, req.headers['proxy-authorization'], ip)
    admitted(done, admission)
    if ('error' in admission) return refuse(admission.error)
    const config = admission.policy.config
    const reads = new DestinationReads(socket)
    const upstream = await connectChecked(admission.addresses, dest.port, config.timeouts.connectMs, () => socket.destroyed, reads)
    if (!('write' in upstream)) return refuse(upstream)
    if (socket.destroyed) {
      upstream.destroy()
      return
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    done.status = 200
    counted(done.destination, 'CONNECT', 200)
    const tunnel = openTunnel({ client: socket, upstream, reads, head, idleMs: config.timeouts.idleMs })
    tunnels.set(tunnel, { destination: done.destination, up: 0, down: 0 })
    flusher ??= setInterval(() => { for (const t of tunnels.keys()) flushBytes(t) }, BYTES_FLUSH_MS).unref()
    metrics.egressTunnels.inc()
    const end = await tunnel.ended
    flushBytes(tunnel)
    tunnels.delete(tunnel)
    if (tunnels.size === 0 && flusher !== null) {
      clearInterval(flusher)
      flusher = null
    }
    metrics.egressTunnels.dec()
    done.bytesUp = end.bytesUp
    done.bytesDown = end.bytesDown
    logLine(done)
  }

  async function onRequest (req: IncomingMessage, res: ServerResponse) {
    const startMs = performance.now()
    const requestId = randomHex(16)
    const ip = clientIp(req.socket)
    const method = req.method ?? 'GET'
    const done: Done = { method, dest: null, destination: DENIED, consumer: null, status: 0, startMs, bytesUp: 0, bytesDown: 0, ip, requestId }
    const refuse = (err: GatewayError) => {
      answerResponse(res, err, requestId)
      refused(done, err)
    }
    const target = absoluteTarget(req.url ?? '')
    if (target === null) return refuse(new BadRequest('The egress port takes CONNECT host:port or an absolute http:// URL'))
    done.dest = target
    const admission = await admit(target, req.headers['proxy-authorization'], ip)
    admitted(done, admission)
    if ('error' in admission) return refuse(admission.error)
    const config = admission.policy.config
    const counters = byteCounters(done.destination)
    const result = await forward({
      req,
      res,
      target,
      address: admission.addresses[0]!,
      agent,
      removeHeaders: admission.policy.removeHeaders,
      idleMs: config.timeouts.idleMs,
      onUp: (n) => { done.bytesUp += n; counters.onUp(n) },
      onDown: (n) => { done.bytesDown += n; counters.onDown(n) },
    })
    if ('error' in result) return refuse(result.error)
    done.status = result.status
    counted(done.destination, method, result.status)
    logLine(done)
  }

  const server = http.createServer({ maxHeaderSize: 16384, requestTimeout: 0 }, (req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      logger.error({ err }, 'egress request failed')
      res.destroy()
    })
  })
  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    onConnect(req, socket, head).catch((err: unknown) => {
      logger.error({ err }, 'egress tunnel failed')
      socket.destroy()
    })
  })
  server.on('clientError', handleClientError)

  return {
    server,
    get tunnels () {
      return tunnels.size
    },
    openTunnels () {
      const by = new Map<string, number>()
      for (const t of tunnels.values()) by.set(t.destination, (by.get(t.destination) ?? 0) + 1)
      return [...by].map(([host, n]) => ({ host, tunnels: n })).sort((a, b) => a.host.localeCompare(b.host))
    },
    stopAccepting () {
      return new Promise<void>((resolve) => {
        if (!server.listening) return resolve()
        server.close(() => resolve())
        server.closeIdleConnections()
      })
    },
    cutAll () {
      for (const t of tunnels.keys()) t.cut()
      server.closeAllConnections()
      agent.destroy().catch(() => {})
    },
  }
}
