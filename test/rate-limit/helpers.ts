import { REDIS_URL } from '../helpers/redis.ts'

// Loopback, where dead ports (closedPort) and the relay (test/helpers/tcp-proxy.ts) listen.
export const REDIS_HOST = '127.0.0.1'

// Tests that need a healthy Redis to count give it a generous timeout: on a loaded CI
// machine a 50 ms answer is not guaranteed, and a timeout there would switch counting to
// the local fallback and fail the test for a reason it is not about. The failure tests
// set the real 50 ms.
export function redisRateLimit (prefix: string, extra: Record<string, unknown> = {}, url: string = REDIS_URL,
  timeout = '1s') {
  return { store: 'redis', redis: { url, keyPrefix: prefix, timeout }, ...extra }
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

export function countMsg (logs: Array<Record<string, unknown>>, msg: string): number {
  return logs.filter((l) => l.msg === msg).length
}
