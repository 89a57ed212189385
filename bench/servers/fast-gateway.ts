import gateway from 'fast-gateway'
import { parseArgs } from 'node:util'

// fast-gateway (restana + fast-proxy-lite), the peer SPEC.md names, with one route.

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' }, prefix: { type: 'string' } } })
const server = gateway({ routes: [{ prefix: String(values.prefix), target: String(values.upstream) }] })
await server.start(Number(values.port), '127.0.0.1')
process.once('SIGTERM', () => process.exit(0))
