// Cost of metrics and the access log per request (not a test; run by hand):
//   node test/observability/measure-cost.ts [--duration 5] [--connections 50] [--rounds 2]
// (MC_VARIANTS=full,none picks variants; NODE_OPTIONS=--cpu-prof profiles them too.)
// Starts a trivial upstream and, one after the other, three gateways on the same config:
//   full      metrics hooks + upstream metrics + access log (pino, sync, to /dev/null)
//   metrics   metrics only (logging.access: false)
//   none      neither: plugins/metrics/index.ts and upstream-metrics.ts swapped for no-ops
//             by a module resolve hook in the child, so production code has no switch for it
// and loads each with autocannon (bounded runs), rotating the order of variants each round. Prints
// req/s and gateway CPU µs per request. With taskset, the gateway gets core 1 and the load
// generator and upstream core 0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const VARIANTS = (process.env.MC_VARIANTS?.split(',') ?? ['full', 'metrics', 'none']) as Array<'full' | 'metrics' | 'none'>
type Variant = typeof VARIANTS[number]

const SELF = fileURLToPath(import.meta.url)

async function gatewayChild (variant: Variant, upstream: string) {
  if (variant === 'none') {
    const { registerHooks } = await import('node:module')
    const noop: Record<string, string> = {
      '/plugins/metrics/index.ts': 'export default async function noMetrics () {}',
      '/plugins/metrics/upstream-metrics.ts': 'export function upstreamMetricsHooks () { return {} }',
    }
    registerHooks({
      resolve (specifier, context, next) {
        const result = next(specifier, context)
        for (const [suffix, source] of Object.entries(noop)) {
          if (result.url.endsWith(suffix)) return { url: 'data:text/javascript,' + encodeURIComponent(source), shortCircuit: true }
        }
        return result
      },
    })
  }
  const pino = (await import('pino')).default
  const { createLogger } = await import('../../apps/gateway/logger.ts')
  const { resolveOrThrow } = await import('../helpers/gateway.ts')
  const { buildGateway } = await import('../../apps/gateway/app.ts')
  const { listenGateway } = await import('../../apps/gateway/server.ts')
  const config = resolveOrThrow({
    logging: { level: 'info', access: variant === 'full' },
    services: [{ name: 'users', prefix: '/api/users', upstreams: [upstream], auth: 'none' }],
  })
  const logger = createLogger('info', pino.destination({ dest: '/dev/null', sync: true }))
  const gateway = await buildGateway(config, { logger })
  const running = await listenGateway(gateway, { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0 })
  let cpuStart = process.cpuUsage()
  process.on('message', async (msg: string) => {
    if (msg === 'has-hooks') {
      const body = (await gateway.admin.inject('/metrics')).body
      process.send!({ hasHooks: body.includes('gatehouse_http_requests_total{') })
    } else if (msg === 'cpu-start') {
      cpuStart = process.cpuUsage()
      process.send!({ cpuStarted: true })
    } else if (msg === 'cpu-stop') {
      const used = process.cpuUsage(cpuStart)
      process.send!({ cpuUs: used.user + used.system })
    } else if (msg === 'stop') {
      await running.shutdown()
      process.exit(0)
    }
  })
  // The bench process is gone: never outlive it.
  process.on('disconnect', () => process.exit(1))
  process.send!({ url: running.publicUrl })
}

function pin (pid: number, core: number) {
  spawnSync('taskset', ['-cp', String(core), String(pid)], { stdio: 'ignore' })
}

function ask<T> (child: ChildProcess, msg: string): Promise<T> {
  child.send(msg)
  return once(child, 'message').then(([m]) => m as T)
}

async function load (url: string, connections: number, duration: number): Promise<{ rps: number, requests: number, non2xx: number }> {
  const result = await autocannon({ url, connections, duration, pipelining: 1 })
  return { rps: result.requests.average, requests: result.requests.total, non2xx: result.non2xx + result.errors }
}

async function main () {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '2' },
    },
  })
  const duration = Number(values.duration)
  const connections = Number(values.connections)
  const rounds = Number(values.rounds)
  const pinning = os.cpus().length >= 2 && spawnSync('taskset', ['-p', String(process.pid)]).status === 0
  if (pinning) pin(process.pid, 0)

  const upstream = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' })
    res.end('{"id":"7"}\n')
  })
  upstream.keepAliveTimeout = 65_000
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const upstreamOrigin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`

  const results: Record<Variant, Array<{ rps: number, cpuUsPerReq: number }>> = { full: [], metrics: [], none: [] }
  for (let round = 0; round < rounds; round++) {
    // The order rotates each round, so no variant always runs first (or after the same one).
    for (let v = 0; v < VARIANTS.length; v++) {
      const variant = VARIANTS[(v + round) % VARIANTS.length]!
      const child = spawn(process.execPath, [SELF, 'gateway', variant, upstreamOrigin], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      if (pinning) pin(child.pid!, 1)
      const [{ url }] = await once(child, 'message') as [{ url: string }]
      const target = `${url}/api/users/7`
      await load(target, connections, 1) // warm-up: JIT, keep-alive sockets
      const { hasHooks } = await ask<{ hasHooks: boolean }>(child, 'has-hooks')
      if (hasHooks !== (variant !== 'none')) throw new Error(`variant ${variant}: metrics hooks ${hasHooks ? 'present' : 'absent'}`)
      await ask(child, 'cpu-start')
      const run = await load(target, connections, duration)
      const { cpuUs } = await ask<{ cpuUs: number }>(child, 'cpu-stop')
      child.send('stop')
      await once(child, 'exit')
      if (run.non2xx > 0) throw new Error(`variant ${variant}: ${run.non2xx} failed requests`)
      results[variant].push({ rps: run.rps, cpuUsPerReq: cpuUs / run.requests })
      console.log(`round ${round + 1} ${variant.padEnd(7)} ${run.rps.toFixed(0).padStart(6)} req/s  ${(cpuUs / run.requests).toFixed(1).padStart(6)} µs CPU/req`)
    }
  }
  upstream.close()

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const base = results.none
  console.log(`\n${connections} connections, ${duration} s x ${rounds} rounds per variant, ${pinning ? 'gateway pinned to core 1' : 'no pinning'} (${os.cpus().length} cores)`)
  for (const variant of VARIANTS) {
    const rps = mean(results[variant].map((r) => r.rps))
    const cpu = mean(results[variant].map((r) => r.cpuUsPerReq))
    console.log(`${variant.padEnd(8)} ${rps.toFixed(0).padStart(6)} req/s (x${(rps / mean(base.map((r) => r.rps))).toFixed(3)})` +
      `  ${cpu.toFixed(1).padStart(6)} µs CPU/req (+${(cpu - mean(base.map((r) => r.cpuUsPerReq))).toFixed(1)})`)
  }
}

if (process.argv[2] === 'gateway') {
  await gatewayChild(process.argv[3] as Variant, process.argv[4]!)
} else {
  await main()
}
