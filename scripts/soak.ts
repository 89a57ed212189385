// `npm run soak [-- --duration 3m]`: the gateway (real CLI, child process) with JWT auth,
// Redis rate limits, breakers and retries, under steady load on 127.0.0.1 while its
// upstreams flap (500 bursts, hangs, resets, kill -9 + respawn) and the Redis port is
// closed once. Reports requests sent / answered by status / unanswered, and the gateway's
// RSS, handles and fds at start and end; exits 1 on any unanswered request or a leak.
// Not part of `npm test`. See docs/security.md ("Soak").
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { createSigner } from 'fast-jwt'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { parseSoakOptions, USAGE, UsageError, type SoakOptions } from './soak/options.ts'
import { killAll, killAllNow, stop } from './soak/children.ts'
import { FlappingUpstream } from './soak/upstreams.ts'
import { RedisProxy } from './soak/redis-proxy.ts'
import { GatewayProcess, soakConfig, SOAK_AUDIENCE, SOAK_ISSUER, SOAK_SCOPE } from './soak/gateway.ts'
import { LoadGenerator, type LoadTarget } from './soak/load.ts'
import { planFaults, runFaults, type TimelineEntry } from './soak/faults.ts'
import { settle } from './soak/settle.ts'
import { formatReport, judge } from './soak/report.ts'

const RESTART_DOWN_MS = 3_000
const READY_MS = 15_000

function say (msg: string) {
  process.stderr.write(`soak: ${msg}\n`)
}

let opts: SoakOptions
try {
  opts = parseSoakOptions(process.argv.slice(2))
} catch (err) {
  if (!(err instanceof UsageError)) throw err
  if (err.message !== '') process.stderr.write(`soak: ${err.message}\n`)
  process.stderr.write(USAGE + '\n')
  process.exit(err.message === '' ? 0 : 2)
}

const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-soak-'))
const keyPrefix = `gatehouse:soak:${randomBytes(4).toString('hex')}:`
const redisProxy = new RedisProxy(opts.redisUrl)
let cleaningUp: Promise<void> | null = null

// Every child by pid, the relay, the soak's Redis keys; idempotent.
function cleanup (keepDir: boolean): Promise<void> {
  cleaningUp ??= (async () => {
    await killAll()
    await redisProxy.close().catch(() => {})
    await deleteKeys().catch(() => {})
    if (!keepDir) rmSync(dir, { recursive: true, force: true })
  })()
  return cleaningUp
}

process.on('exit', killAllNow)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    say(`${signal}: stopping every child process`)
    void cleanup(opts.keepLogs).finally(() => process.exit(130))
  })
}

async function redisClient (): Promise<Redis> {
  const redis = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 })
  redis.on('error', () => {})
  await redis.connect()
  return redis
}

async function countKeys (): Promise<number> {
  const redis = await redisClient()
  try {
    let n = 0
    let cursor = '0'
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
      cursor = next
      n += batch.length
    } while (cursor !== '0')
    return n
  } finally {
    redis.disconnect()
  }
}

async function deleteKeys (): Promise<void> {
  const redis = await redisClient()
  try {
    let cursor = '0'
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
      cursor = next
      if (batch.length > 0) await redis.del(...batch)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

function tokens (secret: string): LoadTarget['tokens'] {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 3_600_000 })
  return Array.from({ length: 8 }, (_, i) => sign({ sub: `soak-${i}`, scope: SOAK_SCOPE, iss: SOAK_ISSUER, aud: SOAK_AUDIENCE }))
}

// Both services answer 200 through the whole pipeline (beta's first health check included).
async function waitServing (url: string, token: string): Promise<void> {
  const deadline = Date.now() + READY_MS
  for (const p of ['/api/alpha/items/1', '/api/beta/items/1']) {
    for (;;) {
      const res = await request(`${url}${p}`, { headers: { authorization: `Bearer ${token}` }, reset: true }).catch(() => null)
      await res?.body.dump()
      if (res?.statusCode === 200) break
      if (Date.now() > deadline) throw new Error(`${p} did not answer 200 within ${READY_MS} ms (last: ${res?.statusCode ?? 'no answer'})`)
      await sleep(200)
    }
  }
}

async function main (): Promise<number> {
  say(`temp dir ${dir}`)
  await (await redisClient()).quit().catch((err: Error) => { throw new Error(`Redis at ${opts.redisUrl} is not reachable: ${err.message}`) })
  await redisProxy.listen()
  const upstreams = { a: new FlappingUpstream('alpha-1'), b: new FlappingUpstream('alpha-2'), c: new FlappingUpstream('beta-1') }
  await Promise.all(Object.values(upstreams).map((u) => u.start()))

  const secret = randomBytes(32).toString('hex')
  const gateway = new GatewayProcess(dir, soakConfig({
    secret, redisPort: redisProxy.port, keyPrefix, alpha: [upstreams.a.origin, upstreams.b.origin], beta: [upstreams.c.origin],
  }))
  await gateway.start()
  say(`gateway pid ${gateway.pid} on ${gateway.publicUrl} (admin ${gateway.adminUrl}); upstreams ${Object.values(upstreams).map((u) => `${u.name} :${u.port}`).join(', ')}; redis relay :${redisProxy.port}`)
  const target: LoadTarget = { url: gateway.publicUrl, tokens: tokens(secret), badToken: tokens(randomBytes(32).toString('hex'))[0]! }
  await waitServing(gateway.publicUrl, target.tokens[0]!)

  // Warm-up (no faults) brings JIT, pools and caches to their working size; the start
  // measurement is taken once it has stopped and settled, like the end one.
  say(`warm-up ${opts.warmupMs / 1000} s at ${opts.rate} req/s`)
  const warm = new LoadGenerator(target, opts)
  warm.start()
  await sleep(opts.warmupMs)
  const warmStats = await warm.stop()
  const start = await settle(gateway, warmStats.stoppedAt)
  say(`start: rss ${(start.sample.rssBytes / 2 ** 20).toFixed(1)} MiB, handles ${start.sample.activeHandles}, fds ${start.sample.openFds} (settled in ${start.settleMs} ms)`)

  say(`load ${opts.durationMs / 1000} s at ${opts.rate} req/s, ${opts.concurrency} workers, with faults`)
  const load = new LoadGenerator(target, opts)
  const timeline: TimelineEntry[] = []
  // Set from callbacks (the gateway exiting), so the loop below reads it through an object.
  const run = { stopped: false }
  let gatewayDied = false
  let stopping = false
  void gateway.child!.exited.then(() => {
    if (!stopping && !cleaningUp) {
      gatewayDied = true
      run.stopped = true
    }
  })
  const faults = planFaults({
    upstreams,
    redis: redisProxy,
    durationMs: opts.durationMs,
    redisDownMs: opts.redisDownMs,
    restartDownMs: RESTART_DOWN_MS,
    storeDegraded: () => gateway.sample().then((s) => s.storeDegraded, () => null),
  })
  const loadStartedAt = Date.now()
  load.start()
  const faultsDone = runFaults(faults, loadStartedAt, timeline, () => run.stopped)
  const deadline = loadStartedAt + opts.durationMs
  while (!run.stopped && Date.now() < deadline) await sleep(Math.min(1000, deadline - Date.now()))
  run.stopped = true
  const stats = await load.stop()
  await faultsDone
  for (const u of Object.values(upstreams)) u.setMode('ok')

  const end = gatewayDied ? { sample: start.sample, settleMs: 0, stable: false } : await settle(gateway, stats.stoppedAt)
  const redisKeys = await countKeys().catch(() => -1)
  const alive = gateway.alive && !gatewayDied
  stopping = true
  if (alive) await stop(gateway.child!, 10_000)

  const result = {
    durationMs: opts.durationMs,
    smoke: opts.smoke,
    load: stats,
    start,
    end,
    timeline,
    messages: gateway.messages,
    gatewayAlive: alive,
    redisKeys,
    tolerance: opts.leakTolerance,
    logFile: null as string | null,
  }
  const verdict = judge(result)
  const keep = opts.keepLogs || !verdict.ok
  if (keep) result.logFile = gateway.logFile
  process.stdout.write(formatReport(result, verdict) + '\n')
  await cleanup(keep)
  return verdict.ok ? 0 : 1
}

main().then((code) => {
  process.exitCode = code
}, async (err: Error) => {
  say(`error: ${err.stack ?? err.message}`)
  await cleanup(true)
  say(`logs kept in ${dir}`)
  process.exitCode = 1
})
