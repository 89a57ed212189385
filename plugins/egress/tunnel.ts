import type net from 'node:net'
import type { Duplex } from 'node:stream'

// A CONNECT tunnel once the destination's socket is open: bytes both ways through
// pipe(), so back-pressure holds (a slow reader pauses the other side; nothing is
// buffered beyond the sockets' own high-water marks). A side that ends half-closes
// the other; an error or `idle` with no byte either way cuts both.

export interface TunnelEnd {
  bytesUp: number // to the destination
  bytesDown: number
  reason: 'closed' | 'idle' | 'error' | 'cut'
}

export interface OpenTunnel {
  // Cuts both sides (shutdown past server.timeouts.drain).
  cut: () => void
  // Bytes moved so far (the destination socket's own counters: no per-chunk work).
  bytes: () => { up: number, down: number }
  ended: Promise<TunnelEnd>
}

export interface TunnelOptions {
  client: Duplex
  upstream: net.Socket
  head: Buffer
  idleMs: number
}

export function openTunnel (opts: TunnelOptions): OpenTunnel {
  const { client, upstream } = opts
  let reason: TunnelEnd['reason'] = 'closed'
  let done = false
  let resolveEnded!: (end: TunnelEnd) => void
  const ended = new Promise<TunnelEnd>((resolve) => { resolveEnded = resolve })
  let closedSides = 0

  function cut (why: TunnelEnd['reason']) {
    if (reason === 'closed') reason = why
    client.destroy()
    upstream.destroy()
  }
  function sideClosed () {
    if (++closedSides < 2 || done) return
    done = true
    resolveEnded({ bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, reason })
  }

  client.on('error', () => cut('error'))
  upstream.on('error', () => cut('error'))
  client.once('close', sideClosed)
  upstream.once('close', sideClosed)
  // A side gone for good takes the other with it (after what it sent has been written).
  client.once('close', () => { if (!upstream.destroyed) upstream.end() })
  upstream.once('close', () => { if (!client.destroyed) client.end() })
  for (const s of [client, upstream] as Array<Duplex & { setTimeout?: net.Socket['setTimeout'] }>) {
    s.setTimeout?.(opts.idleMs, () => cut('idle'))
  }
  if (opts.head.length > 0) upstream.write(opts.head)
  client.pipe(upstream)
  upstream.pipe(client)
  return { cut: () => cut('cut'), bytes: () => ({ up: upstream.bytesWritten, down: upstream.bytesRead }), ended }
}
