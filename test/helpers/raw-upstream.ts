import net from 'node:net'
import type { TestContext } from 'node:test'

export interface RawUpstream {
  origin: string
  connections: () => number
  requests: string[]
}

// A TCP server that answers with whatever bytes the test scripts, for upstream failures
// an HTTP server library would never produce (bad status lines, resets mid-body...).
export async function createRawUpstream (t: TestContext,
  onRequest: (socket: net.Socket, head: string, index: number) => void): Promise<RawUpstream> {
  const requests: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffer = ''
    socket.on('data', (c: Buffer) => {
      buffer += c.toString('latin1')
      let end: number
      while ((end = buffer.indexOf('\r\n\r\n')) !== -1) {
        const head = buffer.slice(0, end)
        buffer = buffer.slice(end + 4)
        requests.push(head)
        onRequest(socket, head, requests.length - 1)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  const { port } = server.address() as net.AddressInfo
  return { origin: `http://127.0.0.1:${port}`, connections: () => sockets.size, requests }
}
