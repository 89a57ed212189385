// CPU cost of the counting step alone, without HTTP: client key and store call per
// request (the headers and the 429 are @fastify/rate-limit's handler, measured through a
// gateway by measure-cost.ts). Not a test; run by hand: node test/rate-limit/measure-step.ts
// Memory: synchronous calls in a loop. Redis: 50 calls in flight on one connection (as
// under load), CPU of this process per call (ioredis encode/parse, timer, callback); the
// timeout is 1 s so that a busy machine measures Redis calls, not the local fallback.
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { RedisRateLimitStore } from '../../plugins/rate-limit/redis-store.ts'
import { createMemoryStore, type GatewayRateLimitStore } from '../../plugins/rate-limit/store.ts'
import { ipBudgetKey } from '../../plugins/rate-limit/client-key.ts'
import { createGatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'
import { startRedisServer } from '../helpers/redis-server.ts'

// Redis: GATEHOUSE_TEST_REDIS_URL, else a throwaway redis-server for this run.
const own = process.env.GATEHOUSE_TEST_REDIS_URL ? null : await startRedisServer()
const redisUrl = process.env.GATEHOUSE_TEST_REDIS_URL || own!.url
const prefix = `gatehouse:measure:${randomBytes(4).toString('hex')}:`

async function run (store: GatewayRateLimitStore, n: number, inflight: number) {
  let started = 0
  let finished = 0
  let degradedCalls = 0
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    const next = () => {
      const i = ++started
      if (i > n) return
      const ip = `10.0.${i & 255}.${(i >> 8) & 255}`
      store.incr(`${prefix}bench:${ipBudgetKey(ip)}`, (err, res) => {
        if (err !== null || res === undefined) throw err
        if (store instanceof RedisRateLimitStore && store.degraded) degradedCalls++
        if (++finished === n) resolve()
        // Deferred: a synchronous store (memory, or a Redis one failing over at once) must not recurse.
        else queueMicrotask(next)
      }, 60_000, 1e9)
    }
    for (let k = 0; k < inflight; k++) next()
  })
  const used = process.cpuUsage(cpu)
  const ms = performance.now() - t0
  return { cpuUsPerCall: +((used.user + used.system) / n).toFixed(2), wallUsPerCall: +(ms * 1000 / n).toFixed(2), degradedCalls }
}

const memory = createMemoryStore()
for (let i = 0; i < 3; i++) console.log('memory', await run(memory, 200_000, 1))

const redis = new RedisRateLimitStore({
  config: { store: 'redis', redis: { url: redisUrl, keyPrefix: prefix, timeoutMs: 1000 }, onStoreError: 'local', default: null },
  logger: pino({ level: 'warn' }) as unknown as FastifyBaseLogger,
  metrics: createGatewayMetrics(),
})
await redis.started()
for (let i = 0; i < 3; i++) console.log('redis, 50 in flight', await run(redis, 50_000, 50))
await redis.client.eval('for _,k in ipairs(redis.call(\'keys\', ARGV[1])) do redis.call(\'del\', k) end', 0, `${prefix}*`)
await redis.close()
await own?.stop()
