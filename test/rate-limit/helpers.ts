import net from 'node:net'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import type { Gateway } from '../../apps/gateway/app.ts'
import { REDIS_URL, redisTarget, redisUrlVia } from '../helpers/redis.ts'

export { REDIS_URL }
// Loopback, where dead ports (closedPort) and the relay below listen.
export const REDIS_HOST = '127.0.0.1'
export const JWT_SECRET = 'rate-limit-test-secret-0123456789abcdef'

// A direct Redis connection for assertions, with a key prefix of its own; every key
// under the prefix is deleted when the test ends.
export async function testRedis (t: TestContext): Promise<{ redis: Redis; prefix: string; keys: () => Promise<string[]> }> {
  const prefix = `gatehouse:test:${randomBytes(6).toString('hex')}:`
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  const keys = async () => {
    const found: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      found.push(...batch)
    } while (cursor !== '0')
    return found.sort()
  }
  t.after(async () => {
    const all = await keys()
    if (all.length > 0) await redis.del(...all)
    await redis.quit()
  })
  return { redis, prefix, keys }
}

// Tests that need a healthy Redis to count give it a generous timeout: on a loaded CI
// machine a 50 ms answer is not guaranteed, and a timeout there would switch counting to
// the local fallback and fail the test for a reason it is not about. The failure tests
// set the real 50 ms.
export function redisRateLimit (prefix: string, extra: Record<string, unknown> = {}, url: string = REDIS_URL,
  timeout = '1s') {
  return { store: 'redis', redis: { url, keyPrefix: prefix, timeout }, ...extra }
}

export function sign (sub: string): string {
  return createSigner({ key: JWT_SECRET, algorithm: 'HS256', expiresIn: 60_000 })({ sub })
}

// Rejects when `p` is not settled within `ms`: the bound the SPEC promises per request
// while Redis is down, checked without asserting on how fast anything is.
export async function within<T> (ms: number, p: Promise<T>, what = 'request'): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not answered within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

export async function degradedGauge (gateway: Gateway): Promise<number> {
  const metric = await gateway.ctx.metrics.rateLimitStoreDegraded.get()
  return metric.values[0]?.value ?? 0
}

// Bounded poll for time-based state (Redis reconnect backoff).
export async function waitFor (check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export function countMsg (logs: Array<Record<string, unknown>>, msg: string): number {
  return logs.filter((l) => l.msg === msg).length
}

// A TCP relay between the gateway and Redis that a test can cut (`drop`: listener closed,
// every connection destroyed), bring back on the same port (`reopen`), or stall
// (`pause`: bytes held, connection kept, as a hung Redis) and release (`resume`).
export interface TcpProxy {
  port: number
  url: string
  drop: () => Promise<void>
  reopen: () => Promise<void>
  pause: () => void
  resume: () => void
}

export async function createTcpProxy (t: TestContext, target = redisTarget): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  const held: Array<{ to: net.Socket; chunk: Buffer }> = []
  let paused = false
  let server: net.Server | null = null
  let port = 0

  function relay (from: net.Socket, to: net.Socket) {
    from.on('data', (chunk: Buffer) => {
      if (paused) held.push({ to, chunk })
      else to.write(chunk)
    })
    from.on('error', () => to.destroy())
    from.on('close', () => to.destroy())
  }

  async function open () {
    const s = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host)
      sockets.add(client)
      sockets.add(upstream)
      client.on('close', () => sockets.delete(client))
      upstream.on('close', () => sockets.delete(upstream))
      relay(client, upstream)
      relay(upstream, client)
    })
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, REDIS_HOST, () => resolve())
    })
    port = (s.address() as net.AddressInfo).port
    server = s
  }

  async function drop () {
    const s = server
    server = null
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    held.length = 0
    if (s !== null) await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  await open()
  t.after(drop)
  return {
    port,
    url: redisUrlVia(port),
    drop,
    reopen: open,
    pause: () => { paused = true },
    resume: () => {
      paused = false
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk)
    },
  }
}
