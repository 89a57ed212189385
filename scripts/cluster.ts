// `npm run cluster [-- --rate 150 --keep-logs]`: three gateway processes (the real CLI) on
// 127.0.0.1 sharing a redis-server of the script's own (rate limits and the registry),
// Debian's haproxy in front health-checking /readyz, under steady load. Four checks
// (issue 23, SPEC "Cluster"): one budget, rolling restart, cluster-wide admin change,
// Redis restart. Prints a table, exits 1 on any failure, stops everything by pid.
// Bounded: about 40 s, at most 3 minutes. Not part of `npm test`; see docs/cluster.md.
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { request } from 'undici'
import { killAll, killAllNow, stop } from './soak/children.ts'
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.ts'
import { Haproxy, HAPROXY_INSTALL_HINT, haproxyInstalled } from './cluster/haproxy.ts'
import { freePort, Instance, REDIS_TIMEOUT_MS } from './cluster/instances.ts'
import { describeFailures, failures, LoadProcess } from './cluster/load.ts'

const BUDGET = 60
const DEADLINE_MS = 3 * 60_000
const say = (msg: string) => process.stderr.write(`cluster: ${msg}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const { values: args } = parseArgs({ options: { rate: { type: 'string' }, 'keep-logs': { type: 'boolean' } } })
const rate = args.rate === undefined ? 150 : Number(args.rate)
if (!Number.isInteger(rate) || rate < 1) {
  process.stderr.write('usage: npm run cluster [-- --rate N (requests/s, default 150)] [--keep-logs]\n')
  process.exit(2)
}
if (!haproxyInstalled()) {
  process.stderr.write(`cluster: ${HAPROXY_INSTALL_HINT}\n`)
  process.exit(1)
}

interface Row { check: string, ok: boolean, detail: string }
const rows: Row[] = []
const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-cluster-'))
let redis: RedisServer | null = null
let upstream: http.Server | null = null
let cleaning: Promise<void> | null = null

function cleanup (): Promise<void> {
  cleaning ??= (async () => {
    await killAll()
    await redis?.stop().catch(() => {})
    upstream?.closeAllConnections()
    upstream?.close()
  })()
  return cleaning
}
process.on('exit', () => { killAllNow(); redis?.stopNow() })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { void cleanup().finally(() => process.exit(130)) })
}

async function call (url: string, init: { method?: 'GET' | 'PUT' | 'DELETE', headers?: Record<string, string>, body?: unknown } = {}) {
  const res = await request(url, {
    method: init.method ?? 'GET',
    headers: { ...init.headers, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    reset: true,
  })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

// When `check` first holds on each instance, in ms after `since`; null where it never did.
async function servedWithin (instances: Instance[], since: number, check: (i: Instance) => Promise<boolean>, limitMs: number): Promise<Array<number | null>> {
  return Promise.all(instances.map(async (i) => {
    while (Date.now() - since < limitMs + 1000) {
      if (await check(i).catch(() => false)) return Date.now() - since
      await sleep(10)
    }
    return null
  }))
}

async function main (): Promise<number> {
  say(`temp dir ${dir}`)
  const watchdog = setTimeout(() => { say('deadline passed: stopping everything'); void cleanup().finally(() => process.exit(1)) }, DEADLINE_MS)
  watchdog.unref()
  // Append-only with fsync on every write: the restarted Redis has everything it answered.
  redis = await startRedisServer(undefined, { dir, appendOnly: true })
  const redisPort = Number(new URL(redis.url).port)
  upstream = http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}') })
  await new Promise<void>((resolve) => upstream!.listen(0, '127.0.0.1', resolve))
  const settings = {
    redisUrl: redis.url,
    upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    secret: randomBytes(32).toString('hex'),
    adminToken: randomBytes(16).toString('hex'),
    budget: BUDGET,
  }
  const admin = { authorization: `Bearer ${settings.adminToken}` }
  const instances: Instance[] = []
  for (const name of ['gw-1', 'gw-2', 'gw-3']) instances.push(new Instance(name, await freePort(), await freePort(), dir, settings))
  await Promise.all(instances.map((i) => i.start()))
  const lb = new Haproxy(dir, await freePort(), instances.map((i) => ({ name: i.name, port: i.port, adminPort: i.adminPort })))
  await lb.start()
  for (const i of instances) await lb.waitUp(i.name, true)
  const lbUrl = `http://127.0.0.1:${lb.port}`
  say(`redis pid ${redis.pid} :${redisPort}; gateways ${instances.map((i) => `${i.name} pid ${i.child!.pid} :${i.port}`).join(', ')}; haproxy pid ${lb.child!.pid} :${lb.port}`)

  const load = new LoadProcess(lbUrl, rate, 8)
  await load.start()
  // Warm-up: a cold process (JIT, first connections) can miss a 50 ms Redis answer, and
  // a miss counts locally for a moment (onStoreError: local), which is not what check 1 is about.
  await sleep(4000)
  // Checks on the load's samples are judged once it has stopped and sent them: each
  // keeps its row's place in the table.
  const later: Array<() => void> = []
  const deferred = (check: string, judge: () => Row) => {
    const slot = rows.push({ check, ok: false, detail: 'not judged' }) - 1
    later.push(() => { rows[slot] = judge() })
  }

  // 1. One budget: 3x the budget for one consumer through haproxy.
  {
    const sign = createSigner({ key: settings.secret, algorithm: 'HS256', expiresIn: 600_000 })
    const token = sign({ sub: `budget-${randomBytes(4).toString('hex')}` })
    const before = await Promise.all(instances.map((i) => i.metric('gatehouse_http_requests_total', 'service="budget"')))
    const degradedBefore = instances.map((i) => i.logCount('rate-limit store degraded'))
    const answers: Array<{ status: number, rateLimit: string, policy: string }> = []
    const queue = Array.from({ length: BUDGET * 3 }, (_, n) => n)
    await Promise.all(Array.from({ length: 12 }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const r = await call(`${lbUrl}/api/budget/${n}`, { headers: { authorization: `Bearer ${token}` } })
        answers.push({ status: r.status, rateLimit: String(r.headers.ratelimit), policy: String(r.headers['ratelimit-policy']) })
      }
    }))
    const after = await Promise.all(instances.map((i) => i.metric('gatehouse_http_requests_total', 'service="budget"')))
    const spread = after.map((n, k) => n - before[k]!)
    const passed = answers.filter((a) => a.status === 200)
    const remaining = passed.map((a) => Number(/;r=(\d+)/.exec(a.rateLimit)?.[1])).sort((x, y) => x - y)
    const resets = answers.map((a) => Number(/;t=(\d+)/.exec(a.rateLimit)?.[1]))
    const agree = remaining.every((r, k) => r === k) &&
      answers.filter((a) => a.status === 429).every((a) => /;r=0;/.test(a.rateLimit)) &&
      answers.every((a) => a.policy === `"budget";q=${BUDGET};w=60`) &&
      Math.max(...resets) - Math.min(...resets) <= 2
    const others = answers.filter((a) => a.status !== 200 && a.status !== 429).length
    const misses = instances.map((i) => i.logCount('rate-limit store degraded') - degradedBefore[instances.indexOf(i)]!).reduce((x, y) => x + y, 0)
    rows.push({
      check: '1. one budget',
      ok: passed.length === BUDGET && agree && others === 0 && spread.every((n) => n > 0),
      detail: `${answers.length} requests for one consumer, limit ${BUDGET}: ${passed.length} passed (${passed.length - BUDGET} over), ` +
        `${answers.length - passed.length - others} x 429, ${others} other; per instance ${spread.join('/')}; RateLimit headers ${agree ? 'agree' : 'DISAGREE'}` +
        (misses > 0 ? `; the rate-limit store missed its ${REDIS_TIMEOUT_MS} ms ${misses} time(s) meanwhile (counted locally then)` : ''),
    })
  }

  // 2. Rolling restart under load: each instance SIGTERM'd, back, seen UP by haproxy.
  {
    const from = Date.now()
    const exits: Array<number | null> = []
    for (const i of instances) {
      exits.push(await i.stop())
      await i.start()
      await lb.waitUp(i.name, true)
    }
    await sleep(500)
    const to = Date.now()
    deferred('2. rolling restart', () => {
      const window = load.between(from, to)
      const bad = failures(window)
      return {
        check: '2. rolling restart',
        ok: bad.length === 0 && exits.every((c) => c === 0) && window.length > 0,
        detail: `${window.length} requests during 3 restarts: ${bad.length} failed or unanswered${bad.length ? ` (${describeFailures(window)})` : ''}; exit codes ${exits.join('/')}`,
      }
    })
  }

  // 3. Cluster-wide admin change: PUT on gw-1, DELETE on gw-2, every instance within 1 s.
  {
    const body = { prefix: '/api/added', upstreams: [settings.upstream], auth: 'none' }
    const putAt = Date.now()
    const put = await call(`${instances[0]!.adminUrl}/admin/services/added`, { method: 'PUT', headers: admin, body })
    const putTimes = await servedWithin(instances, putAt, async (i) => (await call(`${i.url}/api/added/1`)).status === 200, 1000)
    const delAt = Date.now()
    const del = await call(`${instances[1]!.adminUrl}/admin/services/added`, { method: 'DELETE', headers: admin })
    const delTimes = await servedWithin(instances, delAt, async (i) => (await call(`${i.url}/api/added/1`)).status === 404, 1000)
    const fine = (ts: Array<number | null>) => ts.every((t) => t !== null && t <= 1000)
    const fmt = (ts: Array<number | null>) => ts.map((t) => (t === null ? 'never' : `${t} ms`)).join('/')
    rows.push({
      check: '3. cluster-wide admin change',
      ok: put.status === 201 && del.status === 204 && fine(putTimes) && fine(delTimes),
      detail: `PUT on gw-1 (${put.status}) served by gw-1/2/3 after ${fmt(putTimes)}; DELETE on gw-2 (${del.status}) gone after ${fmt(delTimes)}`,
    })
  }

  // 4. Redis restart: SIGKILL by pid, started again on its port and dir.
  {
    const body = { prefix: '/api/kept', upstreams: [settings.upstream], auth: 'none' }
    const kept = await call(`${instances[2]!.adminUrl}/admin/services/kept`, { method: 'PUT', headers: admin, body })
    await servedWithin(instances, Date.now(), async (i) => (await call(`${i.url}/api/kept/1`)).status === 200, 1000)
    const gauges = () => Promise.all(instances.map(async (i) =>
      (await i.metric('gatehouse_ratelimit_store_degraded')) + (await i.metric('gatehouse_registry_degraded'))))
    const waitGauges = async (want: number, ms: number) => {
      const deadline = Date.now() + ms
      while (Date.now() < deadline) {
        if ((await gauges()).every((g) => g === want)) return true
        await sleep(50)
      }
      return false
    }
    const from = Date.now()
    process.kill(redis.pid, 'SIGKILL')
    await redis.stop()
    const wentUp = await waitGauges(2, 5000)
    const refused = await call(`${instances[0]!.adminUrl}/admin/services/refused`, { method: 'PUT', headers: admin, body: { ...body, prefix: '/api/refused' } })
    const refusedCode = refused.status === 503 ? JSON.parse(refused.text).code : refused.status
    await sleep(2000)
    redis = await startRedisServer(undefined, { dir, port: redisPort, appendOnly: true })
    const cameBack = await waitGauges(0, 10_000)
    const to = Date.now()
    await sleep(500)
    const after = Date.now()
    const keptEverywhere = (await Promise.all(instances.map(async (i) => (await call(`${i.url}/api/kept/1`)).status))).every((s) => s === 200)
    deferred('4. Redis restart', () => {
      const window = load.between(from, to)
      const slowest = window.reduce((m, s) => (s.ms > m.ms ? s : m), { ms: 0, startedAt: from })
      const bad = failures(load.between(from, after))
      return {
        check: '4. Redis restart',
        ok: kept.status === 201 && wentUp && cameBack && refusedCode === 'GW_REGISTRY_UNAVAILABLE' && slowest.ms <= REDIS_TIMEOUT_MS + 10 && bad.length === 0 && keptEverywhere,
        detail: `${window.length} requests through the outage (${to - from} ms), slowest ${slowest.ms.toFixed(1)} ms at +${slowest.startedAt - from} ms (bound ${REDIS_TIMEOUT_MS + 10}), ${bad.length} failed; ` +
          `degraded gauges 1 on all: ${wentUp ? 'yes' : 'NO'}, back to 0: ${cameBack ? 'yes' : 'NO'}; PUT meanwhile: ${refusedCode}; registry service kept on all: ${keptEverywhere ? 'yes' : 'NO'}`,
      }
    })
  }

  await load.stop()
  for (const judge of later) judge()
  const total = load.samples.length
  const totalBad = failures(load.samples).length
  rows.push({ check: 'steady load (whole run)', ok: totalBad === 0, detail: `${total} requests at ~${rate}/s through haproxy: ${totalBad} failed or unanswered` })
  for (const i of instances) await i.stop()
  if (lb.child !== null) await stop(lb.child, 5000)
  clearTimeout(watchdog)
  return rows.every((r) => r.ok) ? 0 : 1
}

function table (): string {
  const width = Math.max(...rows.map((r) => r.check.length))
  return ['| check | result | detail |', '|---|---|---|',
    ...rows.map((r) => `| ${r.check.padEnd(width)} | ${r.ok ? 'pass' : 'FAIL'} | ${r.detail} |`)].join('\n')
}

main().then(async (code) => {
  process.stdout.write(table() + '\n')
  await cleanup()
  if (code === 0 && args['keep-logs'] !== true) rmSync(dir, { recursive: true, force: true })
  else say(`logs kept in ${dir}`)
  process.exitCode = code
}, async (err: Error) => {
  say(`error: ${err.stack ?? err.message}`)
  if (rows.length > 0) process.stdout.write(table() + '\n')
  await cleanup()
  say(`logs kept in ${dir}`)
  process.exitCode = 1
})
