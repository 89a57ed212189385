import { Redis } from 'ioredis'

// The Redis contender's prerequisite (Redis answers) and clean-up (the run's keys, under a
// key prefix unique to the run).

async function withRedis<T> (url: string, job: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return await job(redis)
  } finally {
    redis.disconnect()
  }
}

// null when Redis answers PING, else why not.
export async function redisProblem (url: string): Promise<string | null> {
  try {
    await withRedis(url, (r) => r.ping())
    return null
  } catch (err) {
    return `Redis does not answer at ${url} (${(err as Error).message}; GATEHOUSE_BENCH_REDIS_URL names another)`
  }
}

export function deleteKeys (url: string, prefix: string): Promise<number> {
  return withRedis(url, async (redis) => {
    let deleted = 0
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
    return deleted
  })
}
