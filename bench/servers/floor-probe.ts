import http from 'node:http'
import { parseArgs } from 'node:util'
import { Pool, type Dispatcher } from 'undici'

// A PROBE, not a gateway: how little a Node proxy can cost. node:http in, undici's
// Pool.dispatch() out, the response written straight to the socket: no Fastify, no
// streams, no policies, no header rules beyond dropping the hop-by-hop ones.

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' }, prefix: { type: 'string' } } })
const pool = new Pool(String(values.upstream), { connections: 128, pipelining: 1 })
const prefix = String(values.prefix)
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection'])

function handler (res: http.ServerResponse): Dispatcher.DispatchHandler {
  return {
    onRequestStart () {},
    onResponseStart (_controller, status, headers) {
      for (const name of Object.keys(headers)) if (HOP.has(name)) delete headers[name]
      res.writeHead(status, headers)
    },
    onResponseData (_controller, chunk) { res.write(chunk) },
    onResponseEnd () { res.end() },
    onResponseError () {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    },
  }
}

const server = http.createServer((req, res) => {
  const headers: Record<string, string | string[] | undefined> = {}
  for (const name of Object.keys(req.headers)) if (!HOP.has(name)) headers[name] = req.headers[name]
  // GET only, no request body: the bench sends nothing else.
  pool.dispatch({ method: 'GET', path: req.url!.slice(prefix.length) || '/', headers }, handler(res))
})
server.keepAliveTimeout = 120_000
server.listen(Number(values.port), '127.0.0.1')
process.once('SIGTERM', () => process.exit(0))
