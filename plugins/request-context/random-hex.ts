import { randomFillSync } from 'node:crypto'

// Request and trace ids need unpredictable bits on every request. The CSPRNG fills one
// buffer at a time, which is hex-encoded once; an id is then a slice of that string.
// A slice costs a small fraction of a per-id randomUUID() or Buffer#toString('hex').
const POOL_BYTES = 8192
const pool = Buffer.allocUnsafe(POOL_BYTES)
let hexPool = ''
let offset = POOL_BYTES

export function randomHex (bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool)
    hexPool = pool.toString('hex')
    offset = 0
  }
  const start = offset * 2
  offset += bytes
  return hexPool.slice(start, offset * 2)
}
