// `npm start`: the sample services and the gateway on this machine, no Docker.
// `npm start -- --services-only` starts just the sample services.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { banner, mintDevToken, readDemoConfig, servicesBanner } from './demo/banner.ts'
import { busyPorts } from './demo/preflight.ts'
import { killAllNow, spawnChild, stopAll, waitReady } from './demo/processes.ts'
import type { Child } from './demo/processes.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const CONFIG = 'examples/gateway.yaml'
const CLI = 'apps/gateway/cli.ts'
// Each sample service listens on the port of the variable examples/gateway.yaml reaches it
// by, so the two always agree, and a second demo (the npm start test while one runs) can
// be moved off the defaults.
function portOf (variable: string, fallback: number): number {
  const url = process.env[variable]
  return url ? Number(new URL(url).port) : fallback
}
const SERVICES = { users: portOf('USERS_URL', 3001), orders: portOf('ORDERS_URL', 3002), identity: portOf('IDENTITY_URL', 3003), partner: Number(process.env.PARTNER_PORT ?? 3004) }
const SERVICE_READY_MS = 15_000
const GATEWAY_READY_MS = 20_000
// Longer than the example's server.timeouts.drain, so a draining gateway is not cut.
const STOP_GRACE_MS = 35_000

function fail (message: string): never {
  process.stderr.write(`start-demo: ${message}\n`)
  process.exit(1)
}

const args = process.argv.slice(2)
const unknown = args.filter((a) => a !== '--services-only')
if (unknown.length > 0) {
  process.stderr.write(`start-demo: unknown option ${unknown[0]}\nusage: npm start [-- --services-only]\n`)
  process.exit(2)
}
const withGateway = !args.includes('--services-only')
process.chdir(root)

if (withGateway && !existsSync(CLI)) {
  fail(`${CLI} is missing, so the gateway cannot start. ` +
    'Run `npm start -- --services-only` for the sample services alone.')
}
const cfg = withGateway ? readDemoConfig(CONFIG) : null

const ports = Object.entries(SERVICES).map(([what, port]) => ({ port, what: `${what} service` }))
if (cfg) ports.push({ port: cfg.publicPort, what: 'gateway public' }, { port: cfg.adminPort, what: 'gateway admin' })
if (cfg?.egressPort) ports.push({ port: cfg.egressPort, what: 'gateway egress' })
const busy = await busyPorts(ports)
if (busy.length > 0) fail(busy.join('\nstart-demo: '))

const children: Child[] = []
let shuttingDown: Promise<never> | null = null

// The first reason wins (and its exit code); later calls wait for the same stop.
function shutdown (code: number, why: string): Promise<never> {
  shuttingDown ??= (async () => {
    process.stderr.write(`start-demo: ${why}; stopping ${children.map((c) => `${c.name} (pid ${c.proc.pid})`).join(', ')}\n`)
    await stopAll(children, STOP_GRACE_MS)
    process.exit(code)
  })()
  return shuttingDown
}

process.on('SIGINT', () => {
  // A second Ctrl-C means "now".
  if (shuttingDown) { killAllNow(children); process.exit(130) }
  void shutdown(0, 'SIGINT')
})
process.on('SIGTERM', () => { void shutdown(0, 'SIGTERM') })
// Last resort if this script itself crashes: no orphaned children.
process.on('exit', () => killAllNow(children))

const width = Math.max(...[...Object.keys(SERVICES), 'gateway'].map((n) => n.length))

function start (name: string, argv: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawnChild(name, argv, env, children.length, width)
  children.push(child)
  child.exited.then((code) => {
    if (!child.stopping && !shuttingDown) void shutdown(1, `${name} exited unexpectedly (code ${code})`)
  })
  return child
}

try {
  const services = Object.entries(SERVICES).map(([name, port]) => {
    const child = start(name, [`services/${name}/server.ts`], { ...process.env, PORT: String(port), HOST: '127.0.0.1' })
    return waitReady(child, `http://127.0.0.1:${port}/health`, SERVICE_READY_MS)
  })
  await Promise.all(services)
  // Ctrl-C during start-up: start nothing more.
  if (shuttingDown) await shuttingDown

  if (cfg) {
    const gateway = start('gateway', [CLI, '--config', CONFIG], process.env)
    await waitReady(gateway, `http://127.0.0.1:${cfg.adminPort}/readyz`, GATEWAY_READY_MS)
  }
} catch (err) {
  await shutdown(1, (err as Error).message)
}

if (shuttingDown) await shuttingDown
process.stdout.write(cfg ? banner(cfg, SERVICES, mintDevToken(cfg)) : servicesBanner(SERVICES))
