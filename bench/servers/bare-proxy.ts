import Fastify from 'fastify'
import httpProxy from '@fastify/http-proxy'
import { parseArgs } from 'node:util'

// The floor for a Fastify proxy: @fastify/http-proxy with its defaults, logger off.

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' }, prefix: { type: 'string' } } })
const app = Fastify({ logger: false })
await app.register(httpProxy, { upstream: String(values.upstream), prefix: String(values.prefix) })
await app.listen({ port: Number(values.port), host: '127.0.0.1' })
process.once('SIGTERM', () => process.exit(0))
