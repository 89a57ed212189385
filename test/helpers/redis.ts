// The Redis the tests use: GATEHOUSE_TEST_REDIS_URL, which `npm test` (scripts/test.ts)
// sets to the throwaway redis-server it started for the run, or which someone sets to a
// Redis of their choice. Without it, the tests that need Redis skip, saying why; with
// GATEHOUSE_TEST_REQUIRE_REDIS=1 (CI) they fail instead.
import { randomBytes } from 'node:crypto'
import type { TestContext, TestOptions } from 'node:test'
import { Redis } from 'ioredis'

const given = process.env.GATEHOUSE_TEST_REDIS_URL || null

// scripts/test.ts passes its own reason (redis-server not installed) in
// GATEHOUSE_TEST_REDIS_SKIP; a file run directly with `node --test` has none.
export const redisSkipReason: string | null = given !== null
  ? null
  : process.env.GATEHOUSE_TEST_REDIS_SKIP ||
    'needs Redis: GATEHOUSE_TEST_REDIS_URL is not set (`npm test [-- <files>]` starts a throwaway redis-server)'

if (redisSkipReason !== null && process.env.GATEHOUSE_TEST_REQUIRE_REDIS === '1') {
  throw new Error(`GATEHOUSE_TEST_REQUIRE_REDIS=1, so the Redis tests may not skip: ${redisSkipReason}`)
}

function target (url: string): { host: string, port: number } {
  const u = new URL(url)
  // The TCP relay in the rate-limit tests connects to it, so the port must be explicit.
  if (u.port === '') throw new Error(`GATEHOUSE_TEST_REDIS_URL=${url}: name the port (redis://host:port)`)
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) }
}

// Only read by tests that skip when there is no Redis.
export const REDIS_URL: string = given ?? 'redis://127.0.0.1:0'
export const redisTarget = given === null ? { host: '127.0.0.1', port: 0 } : target(given)

// The same Redis (credentials, database) reached through another local port: a relay's.
export function redisUrlVia (port: number): string {
  const u = new URL(REDIS_URL)
  u.hostname = '127.0.0.1'
  u.port = String(port)
  return u.href
}

// For every test that needs Redis: test('...', redisTestOptions, async (t) => { ... })
export const redisTestOptions: TestOptions = redisSkipReason === null ? {} : { skip: redisSkipReason }

// A direct Redis connection for assertions, with a key prefix of this test's own; every
// key under the prefix is deleted when the test ends.
export async function testRedis (t: TestContext): Promise<{ redis: Redis, prefix: string, keys: () => Promise<string[]> }> {
  const prefix = `gatehouse:test:${randomBytes(6).toString('hex')}:`
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 2000 })
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
