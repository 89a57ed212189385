import type { Duplex } from 'node:stream'
import { closeFrame, FrameTracker } from './frames.ts'

// One proxied WebSocket after its 101: two sockets relaying bytes both ways, with
// backpressure. Frames, close codes and reasons pass as the peers sent them, so a Close
// from either side reaches the other with its code, and each TCP half-close is passed
// on. The gateway closes a tunnel itself only when it has been idle (no byte either way)
// for `idleMs`, or when the gateway shuts down: it sends each peer a Close frame (1001)
// between two frames and ends both connections, cutting them if a peer does not finish
// within CLOSE_GRACE_MS.

export const CLOSE_GOING_AWAY = 1001
const CLOSE_GRACE_MS = 1000

type Socket = Duplex & { setNoDelay?: (noDelay: boolean) => unknown, setTimeout?: (ms: number) => unknown }

interface Direction {
  from: Socket
  to: Socket
  tracker: FrameTracker
  masked: boolean // frames toward the upstream are client frames
  // A gateway Close still waits for the end of the frame in flight in this direction.
  pendingClose: Buffer | null
}

export interface TunnelOptions {
  client: Duplex
  upstream: Duplex
  clientHead: Buffer
  upstreamHead: Buffer
  idleMs: number
  // Once, when both connections are closed.
  onEnd: () => void
}

export class Tunnel {
  readonly #client: Socket
  readonly #upstream: Socket
  readonly #up: Direction
  readonly #down: Direction
  readonly #onEnd: () => void
  #closing = false
  #grace: NodeJS.Timeout | undefined
  #open = 2

  constructor (opts: TunnelOptions) {
    const client = this.#client = opts.client as Socket
    const upstream = this.#upstream = opts.upstream as Socket
    this.#onEnd = opts.onEnd
    this.#up = { from: client, to: upstream, tracker: new FrameTracker(), masked: true, pendingClose: null }
    this.#down = { from: upstream, to: client, tracker: new FrameTracker(), masked: false, pendingClose: null }
    client.setNoDelay?.(true)
    upstream.setNoDelay?.(true)
    // Idle = no byte either way: what the client socket reads or is sent covers both directions.
    client.setTimeout?.(opts.idleMs)
    upstream.setTimeout?.(0)
    client.on('timeout', () => this.close(CLOSE_GOING_AWAY, 'idle timeout'))
    this.#relay(this.#up)
    this.#relay(this.#down)
    if (opts.upstreamHead.length > 0) this.#forward(this.#down, opts.upstreamHead)
    if (opts.clientHead.length > 0) this.#forward(this.#up, opts.clientHead)
    // Data that came while the handshake was going on waits in the paused sockets.
    client.resume()
    upstream.resume()
  }

  // The gateway ends the tunnel: a Close frame to each peer that has not been sent one yet.
  close (code: number, reason: string): void {
    if (this.#closing) return
    this.#closing = true
    this.#grace = setTimeout(() => this.destroy(), CLOSE_GRACE_MS).unref()
    for (const d of [this.#up, this.#down]) {
      if (d.tracker.closeSeen) {
        d.to.end()
        continue
      }
      d.pendingClose = closeFrame(code, reason, d.masked)
      if (d.tracker.atBoundary) this.#sendClose(d)
    }
  }

  destroy (): void {
    this.#client.destroy()
    this.#upstream.destroy()
  }

  #relay (d: Direction) {
    d.from.on('data', (chunk: Buffer) => this.#forward(d, chunk))
    d.to.on('drain', () => d.from.resume())
    d.from.on('end', () => { if (!this.#closing) d.to.end() })
    d.from.on('error', () => this.destroy())
    d.from.on('close', () => this.#closed(d))
  }

  #forward (d: Direction, chunk: Buffer) {
    if (this.#closing) {
      // After the gateway's Close only the end of the frame in flight still goes through;
      // the peers' Close replies and anything later are not relayed.
      if (d.pendingClose === null) return
      const n = d.tracker.push(chunk, true)
      if (n > 0) d.to.write(chunk.subarray(0, n))
      if (d.tracker.atBoundary) this.#sendClose(d)
      return
    }
    d.tracker.push(chunk)
    if (!d.to.write(chunk)) d.from.pause()
  }

  #sendClose (d: Direction) {
    const frame = d.pendingClose!
    d.pendingClose = null
    d.to.end(frame)
  }

  #closed (d: Direction) {
    if (--this.#open === 0) {
      clearTimeout(this.#grace)
      this.#onEnd()
      return
    }
    // The other side may still have bytes to flush: end it, and cut it if it lingers.
    if (!d.to.destroyed) {
      d.to.end()
      this.#grace ??= setTimeout(() => this.destroy(), CLOSE_GRACE_MS).unref()
    }
  }
}

// The tunnels of one gateway, for shutdown.
export class Tunnels {
  readonly #all = new Set<Tunnel>()
  #goingAway = false

  get size (): number {
    return this.#all.size
  }

  add (tunnel: Tunnel): void {
    this.#all.add(tunnel)
    // An upgrade that was already under way when shutdown began.
    if (this.#goingAway) tunnel.close(CLOSE_GOING_AWAY, 'gateway shutting down')
  }

  delete (tunnel: Tunnel): void {
    this.#all.delete(tunnel)
  }

  // Shutdown starts: every peer is told (1001) and the tunnels end as the peers answer.
  goingAway (): void {
    this.#goingAway = true
    for (const t of this.#all) t.close(CLOSE_GOING_AWAY, 'gateway shutting down')
  }

  destroyAll (): void {
    for (const t of this.#all) t.destroy()
  }
}
