// The gateway processes of `npm run cluster`: the real CLI, one config file each (fixed
// ports, so haproxy finds a restarted instance where it was), and their admin metrics.
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import YAML from 'yaml'
import { spawnNode, stop, type Child } from '../soak/children.ts'

const CLI = fileURLToPath(new URL('../../apps/gateway/cli.ts', import.meta.url))

export const REDIS_TIMEOUT_MS = 50
export const DRAIN = '5s'

export async function freePort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', resolve) })
  const { port } = s.address() as AddressInfo
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

export interface ClusterSettings {
  redisUrl: string
  upstream: string
  secret: string
  adminToken: string
  budget: number
}

function config (c: ClusterSettings, port: number, adminPort: number): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port, trustProxy: ['127.0.0.1/32'], timeouts: { connect: '1s', upstream: '5s', drain: DRAIN } },
    admin: { host: '127.0.0.1', port: adminPort, token: c.adminToken },
    logging: { level: 'info', access: false },
    auth: { jwt: { secret: c.secret, algorithms: ['HS256'] } },
    rateLimit: {
      store: 'redis',
      redis: { url: c.redisUrl, keyPrefix: 'gatehouse:cluster:rl:', timeout: `${REDIS_TIMEOUT_MS}ms` },
      onStoreError: 'local',
    },
    registry: { store: 'redis', redis: { url: c.redisUrl, keyPrefix: 'gatehouse:cluster:registry:' } },
    services: [
      // Counted in Redis like any limited service, with a budget the load never reaches.
      { name: 'steady', prefix: '/api/steady', upstreams: [c.upstream], auth: 'none', rateLimit: { max: 1_000_000_000, window: '1m', by: 'ip' } },
      { name: 'budget', prefix: '/api/budget', upstreams: [c.upstream], auth: 'required', rateLimit: { max: c.budget, window: '1m', by: 'consumer' } },
    ],
  }
}

export class Instance {
  child: Child | null = null
  readonly url: string
  readonly adminUrl: string
  readonly file: string
  readonly log: string
  readonly name: string
  readonly port: number
  readonly adminPort: number

  constructor (name: string, port: number, adminPort: number, dir: string, settings: ClusterSettings) {
    this.name = name
    this.port = port
    this.adminPort = adminPort
    this.url = `http://127.0.0.1:${port}`
    this.adminUrl = `http://127.0.0.1:${adminPort}`
    this.file = path.join(dir, `${name}.yaml`)
    this.log = path.join(dir, `${name}.log`)
    writeFileSync(this.file, YAML.stringify(config(settings, port, adminPort)))
  }

  async start (): Promise<void> {
    const child = this.child = spawnNode(this.name, [CLI, '--config', this.file])
    const log = createWriteStream(this.log, { flags: 'a' })
    child.proc.stdout!.pipe(log)
    child.proc.stderr!.pipe(log)
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (child.proc.exitCode !== null) throw new Error(`${this.name} exited with ${child.proc.exitCode}; see ${this.log}`)
      if (await this.ready()) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`${this.name}: /readyz not 200 within 20 s; see ${this.log}`)
  }

  async ready (): Promise<boolean> {
    const res = await request(`${this.adminUrl}/readyz`, { reset: true }).catch(() => null)
    await res?.body.dump()
    return res?.statusCode === 200
  }

  // SIGTERM and the exit; its code (0 = drained and stopped cleanly).
  async stop (): Promise<number | null> {
    const child = this.child
    if (child === null) return null
    await stop(child, 20_000)
    return child.proc.exitCode
  }

  // Log lines with this `msg` so far (the log file is this instance's across restarts).
  logCount (msg: string): number {
    const text = existsSync(this.log) ? readFileSync(this.log, 'utf8') : ''
    return text.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length
  }

  async metrics (): Promise<string> {
    const res = await request(`${this.adminUrl}/metrics`, { reset: true })
    return res.body.text()
  }

  // The sum of a metric's samples whose labels include `match` (e.g. `service="budget"`).
  async metric (name: string, match = ''): Promise<number> {
    let sum = 0
    for (const line of (await this.metrics()).split('\n')) {
      if (!line.startsWith(name) || !line.includes(match)) continue
      const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line)
      if (m !== null) sum += Number(m[2])
    }
    return sum
  }
}
