import { randomFillSync } from 'node:crypto'

// Request and trace ids need unpredictable bits on every request. Filling one buffer from
// the CSPRNG and slicing it is several times cheaper than a randomUUID() per id.
const POOL_BYTES = 8192
const pool = Buffer.allocUnsafe(POOL_BYTES)
let offset = POOL_BYTES

export function randomHex (bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool)
    offset = 0
  }
  const hex = pool.toString('hex', offset, offset + bytes)
  offset += bytes
  return hex
}
