import http from 'node:http'
import { parseArgs } from 'node:util'

// The upstream of every contender: a plain Node server answering a fixed ~100-byte JSON
// to any path. Keep-alive is longer than any client's idle time, so a proxy never reuses
// a socket the backend is closing (that would show up as 502s unrelated to the proxy).

const BODY = Buffer.from(JSON.stringify({
  ok: true,
  service: 'bench-backend',
  message: 'hello from the benchmark upstream',
  items: [1, 2, 3, 4, 5],
}))

const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(BODY.length),
}

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } } })
const server = http.createServer((req, res) => {
  // Drain any request body before answering.
  req.resume()
  res.writeHead(200, HEADERS)
  res.end(BODY)
})
server.keepAliveTimeout = 120_000
server.headersTimeout = 125_000
server.listen(Number(values.port), values.host)
process.once('SIGTERM', () => process.exit(0))
