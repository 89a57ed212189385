import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomHex } from '../../plugins/request-context/random-hex.ts'
import { newTraceContext } from '../../plugins/request-context/trace-context.ts'
import { requestIdFor } from '../../plugins/request-context/index.ts'

// Ids are slices of one hex-encoded random pool: every slice must be fresh bytes, also
// across refills of the pool, or ids would repeat (and become guessable).
test('generated ids never repeat and stay lowercase hex of the right length across pool refills', () => {
  const seen = new Set<string>()
  // 8 KiB pool: 3,000 draws of 16 + 24 bytes refill it 14 times, at uneven offsets.
  for (let i = 0; i < 3_000; i++) {
    const id = randomHex(16)
    const trace = newTraceContext()
    assert.match(id, /^[0-9a-f]{32}$/)
    assert.match(trace.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    assert.equal(trace.traceparent.slice(3, 35), trace.traceId)
    for (const v of [id, trace.traceId, trace.traceparent.slice(36, 52)]) {
      assert.ok(!seen.has(v), `repeated id ${v}`)
      seen.add(v)
    }
  }
})

test('a request without a valid X-Request-Id gets a fresh 32-hex id each time', () => {
  const ids = new Set<string>()
  for (const given of [undefined, '', 'bad id', 'x'.repeat(129)]) {
    for (let i = 0; i < 50; i++) {
      const id = requestIdFor({ headers: given === undefined ? {} : { 'x-request-id': given } } as never)
      assert.match(id, /^[0-9a-f]{32}$/)
      ids.add(id)
    }
  }
  assert.equal(ids.size, 200)
  assert.equal(requestIdFor({ headers: { 'x-request-id': 'client-id.1:2' } } as never), 'client-id.1:2')
})
