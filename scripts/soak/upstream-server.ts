// One flapping upstream, run as its own process by the soak:
//   node scripts/soak/upstream-server.ts <port> <name>
// The soak switches its behaviour over IPC ({ mode }) and kills/respawns it for restarts.
// Modes: ok (200), error (500), hang (read the request, never answer), reset (read the
// request, then RST the connection before any byte of the answer).
import http from 'node:http'
import type { Socket } from 'node:net'

export type UpstreamMode = 'ok' | 'error' | 'hang' | 'reset'

const port = Number(process.argv[2])
const name = process.argv[3] ?? 'upstream'
let mode: UpstreamMode = 'ok'
const hung = new Set<http.ServerResponse>()

const body = JSON.stringify({ upstream: name, items: Array.from({ length: 8 }, (_, i) => ({ id: i, name: `item-${i}` })) })

const server = http.createServer((req, res) => {
  req.on('error', () => {})
  // Consume the body first: every answer is to a complete request.
  req.resume()
  req.on('end', () => {
    if (req.url === '/health') {
      res.writeHead(mode === 'ok' ? 200 : 503).end()
      return
    }
    switch (mode) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'application/json' }).end(body)
        return
      case 'error':
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"injected"}')
        return
      case 'hang':
        hung.add(res)
        res.on('close', () => hung.delete(res))
        return
      case 'reset':
        (req.socket as Socket).resetAndDestroy()
    }
  })
})

process.on('message', (msg: { mode?: UpstreamMode }) => {
  if (msg.mode === undefined) return
  mode = msg.mode
  // Leaving a hang: what is still held is answered late, as a real upstream would.
  if (mode !== 'hang') {
    for (const res of hung) if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(body)
  }
})
// The soak went away (even by SIGKILL): do not outlive it.
process.on('disconnect', () => process.exit(0))

server.on('error', (err) => {
  process.stderr.write(`${name}: ${err.message}\n`)
  process.exit(1)
})
server.listen(port, '127.0.0.1', () => {
  process.send?.({ ready: (server.address() as { port: number }).port })
})
