import net from 'node:net'
import type { TestContext } from 'node:test'
import { redisTarget, redisUrlVia } from './redis.ts'

// A TCP relay between the gateway and Redis that a test can cut (`drop`: listener closed,
// every connection destroyed), bring back on the same port (`reopen`), or stall
// (`pause`: bytes held, connection kept, as a hung Redis) and release (`resume`).
export interface TcpProxy {
  port: number
  url: string
  drop: () => Promise<void>
  reopen: () => Promise<void>
  pause: () => void
  resume: () => void
}

export async function createTcpProxy (t: TestContext, target = redisTarget): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  const held: Array<{ to: net.Socket; chunk: Buffer }> = []
  let paused = false
  let server: net.Server | null = null
  let port = 0

  function relay (from: net.Socket, to: net.Socket) {
    from.on('data', (chunk: Buffer) => {
      if (paused) held.push({ to, chunk })
      else to.write(chunk)
    })
    from.on('error', () => to.destroy())
    from.on('close', () => to.destroy())
  }

  async function open () {
    const s = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host)
      sockets.add(client)
      sockets.add(upstream)
      client.on('close', () => sockets.delete(client))
      upstream.on('close', () => sockets.delete(upstream))
      relay(client, upstream)
      relay(upstream, client)
    })
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
    })
    port = (s.address() as net.AddressInfo).port
    server = s
  }

  async function drop () {
    const s = server
    server = null
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    held.length = 0
    if (s !== null) await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  await open()
  t.after(drop)
  return {
    port,
    url: redisUrlVia(port),
    drop,
    reopen: open,
    pause: () => { paused = true },
    resume: () => {
      paused = false
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk)
    },
  }
}
