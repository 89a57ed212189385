// A TCP relay the gateway uses as its Redis. Closing it (listener and every relayed
// connection) is a Redis outage seen from the gateway; the real Redis server is never
// touched. Reopened on the same port, so the gateway's client reconnects by itself.
import net from 'node:net'
import { once } from 'node:events'

export class RedisProxy {
  readonly target: { host: string, port: number }
  port = 0
  outages = 0
  private server: net.Server | null = null
  private readonly sockets = new Set<net.Socket>()

  constructor (redisUrl: string) {
    const u = new URL(redisUrl)
    this.target = { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) }
  }

  get open (): boolean {
    return this.server !== null
  }

  async listen (): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {})
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    this.port = (server.address() as net.AddressInfo).port
    this.server = server
  }

  // The port is closed: connected clients are reset, new connections refused.
  async close (): Promise<void> {
    const server = this.server
    if (server === null) return
    this.server = null
    this.outages++
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const s of this.sockets) s.resetAndDestroy()
    await closed
  }
}
