import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'

export interface RecordedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  body: Buffer
}

export interface Upstream {
  origin: string
  port: number
  server: http.Server
  requests: RecordedRequest[]
  // Resolves with the next request the upstream receives (headers seen, body not awaited).
  nextRequest: () => Promise<http.IncomingMessage>
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void

// Echoes what it received, so tests can check exactly what the gateway forwarded.
export const echo: UpstreamHandler = (req, res, body) => {
  const payload = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength: body.length })
  res.writeHead(200, { 'content-type': 'application/json', server: 'upstream-banner', 'x-powered-by': 'Express' })
  res.end(payload)
}

// A real HTTP server on 127.0.0.1:0, closed (with its sockets) when the test ends.
export async function createUpstream (t: TestContext, handler: UpstreamHandler = echo,
  opts: { bufferBody?: boolean } = {}): Promise<Upstream> {
  const requests: RecordedRequest[] = []
  const waiters: Array<(req: http.IncomingMessage) => void> = []
  const server = http.createServer((req, res) => {
    // Tests cut requests on purpose; an aborted request must not crash the test process.
    req.on('error', () => {})
    waiters.shift()?.(req)
    if (opts.bufferBody === false) {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) })
      handler(req, res, Buffer.alloc(0))
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body })
      handler(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const port = (server.address() as AddressInfo).port
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    nextRequest: () => new Promise((resolve) => waiters.push(resolve)),
  }
}

// A port nothing listens on: bind, read the port, close.
export async function closedPort (): Promise<number> {
  const s = http.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}
