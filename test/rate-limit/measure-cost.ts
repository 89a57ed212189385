// What the rate limit costs per request: the same listening gateway config with no limit,
// with the memory store and with the Redis store, loaded in turn by autocannon in this
// one process run (budget never reached). Not a test; run by hand:
//   node test/rate-limit/measure-cost.ts [seconds=5] [connections=50] [rounds=2]
// The backend and autocannon are child processes, so this process is the gateway alone:
// its CPU time per request is reported next to req/s (steadier on a shared machine).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { buildGateway } from '../../apps/gateway/app.ts'
import { listenGateway } from '../../apps/gateway/server.ts'
import { resolveOrThrow } from '../helpers/gateway.ts'
import { startRedisServer } from '../helpers/redis-server.ts'

const seconds = Number(process.argv[2] ?? 5)
const connections = Number(process.argv[3] ?? 50)
const rounds = Number(process.argv[4] ?? 2)
const NEVER_HIT = { max: 1_000_000_000, window: '1m' }
// Redis: GATEHOUSE_TEST_REDIS_URL, else a throwaway redis-server for this run.
const own = process.env.GATEHOUSE_TEST_REDIS_URL ? null : await startRedisServer()
const redisUrl = process.env.GATEHOUSE_TEST_REDIS_URL || own!.url
const prefix = `gatehouse:measure:${randomBytes(4).toString('hex')}:`

const backend = spawn(process.execPath, ['-e', `
  const http = require('node:http')
  const s = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok') })
  s.keepAliveTimeout = 60000
  s.listen(0, '127.0.0.1', () => console.log(s.address().port))
`], { stdio: ['ignore', 'pipe', 'inherit'] })
const [portLine] = await once(backend.stdout!, 'data') as [Buffer]
const origin = `http://127.0.0.1:${Number(portLine.toString())}`

type Variant = 'none' | 'memory' | 'redis'
const rateLimit: Record<Variant, Record<string, unknown> | undefined> = {
  none: undefined,
  memory: { store: 'memory', default: NEVER_HIT },
  redis: { store: 'redis', redis: { url: redisUrl, keyPrefix: prefix }, default: NEVER_HIT },
}

interface LoadResult { rps: number; p50: number; p99: number; non2xx: number; total: number }

async function load (url: string, duration: number): Promise<LoadResult> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import autocannon from 'autocannon'
    const r = await autocannon({ url: ${JSON.stringify(url)}, connections: ${connections}, duration: ${duration} })
    console.log(JSON.stringify({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, total: r.requests.total }))
  `], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.on('data', (c: Buffer) => { out += c.toString() })
  await once(child, 'exit')
  return JSON.parse(out) as LoadResult
}

async function measure (variant: Variant): Promise<LoadResult & { cpuUsPerReq: number }> {
  const config = resolveOrThrow({
    logging: { level: 'warn', access: false },
    ...(rateLimit[variant] === undefined ? {} : { rateLimit: rateLimit[variant] }),
    services: [{ name: 'bench', prefix: '/api/bench', upstreams: [origin], auth: 'none', circuitBreaker: false }],
  })
  const gateway = await buildGateway(config)
  const listening = await listenGateway(gateway, { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0 })
  try {
    const url = `${listening.publicUrl}/api/bench/hello`
    await load(url, 1) // warm-up
    const cpu = process.cpuUsage()
    const r = await load(url, seconds)
    const used = process.cpuUsage(cpu)
    return { ...r, cpuUsPerReq: (used.user + used.system) / Math.max(1, r.total) }
  } finally {
    await listening.shutdown()
  }
}

const results: Record<Variant, number[]> = { none: [], memory: [], redis: [] }
const cpuPerReq: Record<Variant, number[]> = { none: [], memory: [], redis: [] }
for (let round = 1; round <= rounds; round++) {
  for (const variant of ['none', 'memory', 'redis'] as const) {
    const r = await measure(variant)
    results[variant].push(r.rps)
    cpuPerReq[variant].push(r.cpuUsPerReq)
    console.log(`round ${round} ${variant.padEnd(6)} ${r.rps.toFixed(0).padStart(7)} req/s  ${r.cpuUsPerReq.toFixed(1)} µs CPU/req  p50 ${r.p50} ms  p99 ${r.p99} ms  non-2xx ${r.non2xx}`)
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const base = mean(results.none)
for (const variant of ['none', 'memory', 'redis'] as const) {
  const m = mean(results[variant])
  const c = mean(cpuPerReq[variant])
  console.log(`${variant.padEnd(6)} mean ${m.toFixed(0).padStart(7)} req/s  ratio to no limit ${(m / base).toFixed(3)}  ` +
    `${c.toFixed(1)} µs CPU/req (+${(c - mean(cpuPerReq.none)).toFixed(1)})`)
}

const redis = new Redis(redisUrl)
const keys = await redis.keys(`${prefix}*`)
if (keys.length > 0) await redis.del(...keys)
await redis.quit()
await own?.stop()
backend.kill()
