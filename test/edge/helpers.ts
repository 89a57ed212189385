import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import type { Gateway } from '../../apps/gateway/app.ts'
import { REDIS_URL } from '../helpers/redis.ts'

export { REDIS_URL }
export const JWT_SECRET = 'edge-tests-secret-0123456789abcdef'

export function sign (sub: string): string {
  return createSigner({ key: JWT_SECRET, algorithm: 'HS256', expiresIn: 60_000 })({ sub })
}

export function bearer (sub: string): Record<string, string> {
  return { authorization: `Bearer ${sign(sub)}` }
}

// Value of one series of a counter/gauge on the gateway's registry (0 when absent).
export async function metricValue (gateway: Gateway, name: 'cacheRequests' | 'authFailures' | 'rateLimited',
  labels: Record<string, string>): Promise<number> {
  const metric = await gateway.ctx.metrics[name].get()
  const found = metric.values.find((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
  return found?.value ?? 0
}

// Bounded poll, for time-based state (expiry) or state only visible inside the gateway.
export async function waitFor (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

// A deferred the tests resolve to let a held upstream answer.
export function gate (): { promise: Promise<void>, open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => { open = resolve })
  return { promise, open }
}

// A direct Redis connection and a key prefix of this test's own, cleaned up at the end.
export async function testRedis (t: TestContext): Promise<{ redis: Redis, prefix: string, keys: () => Promise<string[]> }> {
  const prefix = `gatehouse:test-edge:${randomBytes(6).toString('hex')}:`
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 2000 })
  const keys = async () => (await redis.keys(`${prefix}*`)).sort()
  t.after(async () => {
    const all = await keys()
    if (all.length > 0) await redis.del(...all)
    await redis.quit()
  })
  return { redis, prefix, keys }
}
