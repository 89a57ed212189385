import { Redis } from 'ioredis'

// The Redis contender's prerequisites and clean-up: is Redis there, and delete the run's
// rate-limit keys (its keyPrefix is unique per run) afterwards.

function connect (url: string): Redis {
  return new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null })
}

// null when Redis answers PING, else why not.
export async function redisProblem (url: string): Promise<string | null> {
  const redis = connect(url)
  redis.on('error', () => {})
  try {
    await redis.connect()
    await redis.ping()
    return null
  } catch (err) {
    return `Redis not reachable at ${url} (${(err as Error).message})`
  } finally {
    redis.disconnect()
  }
}

export async function deleteKeys (url: string, prefix: string): Promise<number> {
  const redis = connect(url)
  redis.on('error', () => {})
  let deleted = 0
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
    return deleted
  } finally {
    redis.disconnect()
  }
}

// redis-server's pid (INFO server), when it runs on this machine: its CPU is part of what
// the Redis contender costs, not outside noise.
export async function redisPid (url: string): Promise<number | null> {
  const redis = connect(url)
  redis.on('error', () => {})
  try {
    await redis.connect()
    const info = await redis.info('server')
    const match = /process_id:(\d+)/.exec(info)
    return match === null ? null : Number(match[1])
  } catch {
    return null
  } finally {
    redis.disconnect()
  }
}
