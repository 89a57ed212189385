// The gateway under soak: its config file, the child process (the real CLI), its log,
// and the resource readings (admin /metrics and /proc) the leak check compares.
import { createWriteStream, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import YAML from 'yaml'
import { isAlive, spawnNode, type Child } from './children.ts'

const CLI = fileURLToPath(new URL('../../apps/gateway/cli.ts', import.meta.url))
const LISTENING_MS = 20_000

export const SOAK_ISSUER = 'gatehouse-soak'
export const SOAK_AUDIENCE = 'gatehouse'
export const SOAK_SCOPE = 'soak:read'

export interface GatewayConfigInput {
  secret: string
  redisPort: number
  keyPrefix: string
  alpha: string[]
  beta: string[]
}

// Every policy on: JWT auth, rate limits in Redis (a budget the load never reaches),
// breakers, retries, an active health check on beta. Timeouts short enough that a
// hanging upstream costs 2 s, not 30.
export function soakConfig (c: GatewayConfigInput): Record<string, unknown> {
  const breaker = { timeout: '2s', errorThresholdPercentage: 50, volumeThreshold: 10, resetTimeout: '2s' }
  return {
    server: {
      host: '127.0.0.1',
      port: 0,
      timeouts: { connect: '1s', upstream: '2s', keepAlive: '5s', headers: '10s', drain: '5s' },
    },
    logging: { level: 'info', access: false },
    admin: { host: '127.0.0.1', port: 0 },
    auth: { jwt: { secret: c.secret, issuer: SOAK_ISSUER, audience: SOAK_AUDIENCE, algorithms: ['HS256'] } },
    rateLimit: {
      store: 'redis',
      redis: { url: `redis://127.0.0.1:${c.redisPort}`, keyPrefix: c.keyPrefix, timeout: '50ms' },
      onStoreError: 'local',
      default: { max: 1_000_000_000, window: '1m', by: 'consumer' },
    },
    services: [
      { name: 'alpha', prefix: '/api/alpha', upstreams: c.alpha, scopes: [SOAK_SCOPE], circuitBreaker: breaker, retries: 1 },
      {
        name: 'beta',
        prefix: '/api/beta',
        upstreams: c.beta,
        scopes: [SOAK_SCOPE],
        circuitBreaker: breaker,
        retries: 1,
        healthCheck: { path: '/health', interval: '1s', unhealthyAfter: 2, healthyAfter: 1 },
      },
    ],
  }
}

export interface ResourceSample {
  at: number
  rssBytes: number
  heapUsedBytes: number | null
  activeHandles: number | null
  openFds: number
  handlesByType: Record<string, number>
  storeDegraded: number | null
}

export class GatewayProcess {
  child: Child | null = null
  publicUrl = ''
  adminUrl = ''
  // Log lines by `msg`, for the report (breaker transitions, Redis loss/recovery...).
  readonly messages = new Map<string, number>()
  readonly logFile: string
  readonly configFile: string
  private inspectorUrl: string | null = null

  constructor (dir: string, config: Record<string, unknown>) {
    this.logFile = path.join(dir, 'gateway.log')
    this.configFile = path.join(dir, 'gateway.yaml')
    writeFileSync(this.configFile, YAML.stringify(config))
  }

  get pid (): number {
    return this.child!.pid
  }

  get alive (): boolean {
    return this.child !== null && isAlive(this.child)
  }

  async start (): Promise<void> {
    // The inspector (loopback, random port) is only used to run a full GC before each
    // resource measurement, so start and end compare live memory, not collectable garbage.
    const child = this.child = spawnNode('gateway', ['--inspect=127.0.0.1:0', CLI, '--config', this.configFile])
    const log = createWriteStream(this.logFile)
    createInterface({ input: child.proc.stderr!, crlfDelay: Infinity }).on('line', (line) => {
      log.write(line + '\n')
      const m = /^Debugger listening on (ws:\/\/\S+)/.exec(line)
      if (m !== null) this.inspectorUrl = m[1]!
    })
    const listening = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway did not listen within ${LISTENING_MS} ms (log: ${this.logFile})`)), LISTENING_MS)
      void child.exited.then(() => { clearTimeout(timer); reject(new Error(`gateway exited at start (log: ${this.logFile})`)) })
      createInterface({ input: child.proc.stdout!, crlfDelay: Infinity }).on('line', (line) => {
        log.write(line + '\n')
        let entry: { msg?: string, publicUrl?: string, adminUrl?: string }
        try { entry = JSON.parse(line) } catch { return }
        if (entry.msg === undefined) return
        this.messages.set(entry.msg, (this.messages.get(entry.msg) ?? 0) + 1)
        if (entry.msg === 'gateway listening' && entry.publicUrl && entry.adminUrl) {
          this.publicUrl = entry.publicUrl
          this.adminUrl = entry.adminUrl
          clearTimeout(timer)
          resolve()
        }
      })
    })
    await listening
  }

  // A full, blocking GC in the gateway (HeapProfiler.collectGarbage over the inspector).
  async collectGarbage (): Promise<void> {
    const url = this.inspectorUrl
    if (url === null) throw new Error('the gateway inspector is not listening')
    const ws = new WebSocket(url)
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('inspector: no answer to collectGarbage')), 10_000)
        ws.onerror = () => { clearTimeout(timer); reject(new Error('inspector: connection failed')) }
        ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }))
        ws.onmessage = (event) => {
          if ((JSON.parse(String(event.data)) as { id?: number }).id === 1) { clearTimeout(timer); resolve() }
        }
      })
    } finally {
      ws.close()
    }
  }

  async metricsText (): Promise<string> {
    // Connection: close, so scraping leaves no idle admin socket behind in the count.
    const res = await request(`${this.adminUrl}/metrics`, { reset: true, headersTimeout: 5000, bodyTimeout: 5000 })
    return res.body.text()
  }

  async sample (): Promise<ResourceSample> {
    const text = await this.metricsText()
    const handlesByType: Record<string, number> = {}
    for (const m of text.matchAll(/^nodejs_active_handles\{type="([^"]+)"\} (\S+)$/gm)) handlesByType[m[1]!] = Number(m[2])
    return {
      at: Date.now(),
      rssBytes: metric(text, 'process_resident_memory_bytes') ?? procRss(this.pid),
      heapUsedBytes: metric(text, 'nodejs_heap_size_used_bytes'),
      activeHandles: metric(text, 'nodejs_active_handles_total'),
      openFds: procFds(this.pid),
      handlesByType,
      storeDegraded: metric(text, 'gatehouse_ratelimit_store_degraded'),
    }
  }
}

export function metric (text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{\\})? (\\S+)`, 'm').exec(text)
  return m === null ? null : Number(m[1])
}

function procRss (pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) * 1024
}

function procFds (pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return NaN
  }
}
