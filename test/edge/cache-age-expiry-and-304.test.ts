import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'
import { countingUpstream, svc, cacheMetric } from './helpers.ts'

test('a hit carries X-Cache: HIT and Age (counting the upstream\'s own Age); a miss X-Cache: MISS', async (t) => {
  const up = await countingUpstream(t, () => ({ age: '7', 'cache-control': 'public, max-age=600' }))
  const { inject, gateway } = await createGateway(t, baseConfig([svc(up)]))

  const first = await inject('/api/items/1')
  assert.equal(first.headers['x-cache'], 'MISS')
  const second = await inject('/api/items/1')
  assert.equal(second.statusCode, 200)
  assert.equal(second.headers['x-cache'], 'HIT')
  assert.ok(Number(second.headers.age) >= 7 && Number(second.headers.age) < 60, `Age ${second.headers.age}`)
  assert.equal(second.body, first.body)
  assert.equal(second.headers['content-type'], 'application/json')
  assert.notEqual(second.headers['x-request-id'], first.headers['x-request-id'], 'a hit gets its own request id')
  // HEAD is answered from the GET's entry: headers only.
  const head = await inject({ method: 'HEAD', url: '/api/items/1' })
  assert.equal(head.headers['x-cache'], 'HIT')
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(first.body)))
  assert.equal(head.body, '')
  assert.equal(up.calls(), 1)
  assert.equal(await cacheMetric(gateway, 'hit'), 2)
})

test('entries expire after cache.ttl (200 ms), and an upstream max-age shorter than ttl bounds it', async (t) => {
  const up = await countingUpstream(t, (req) => req.url!.endsWith('short') ? { 'cache-control': 'max-age=1' } : { 'cache-control': 'max-age=600' })
  const { inject } = await createGateway(t, baseConfig([
    svc(up, { cache: { ttl: '200ms' } }),
    { name: 'long', prefix: '/api/long', upstreams: [up.origin], cache: { ttl: '1h' } },
  ]))

  assert.equal((await inject('/api/items/1')).headers['x-cache'], 'MISS')
  assert.equal((await inject('/api/items/1')).headers['x-cache'], 'HIT')
  const stored = Date.now()
  await waitFor('ttl expiry', async () => (await inject('/api/items/1')).headers['x-cache'] === 'MISS', 2000)
  assert.ok(Date.now() - stored >= 150, 'not before the ttl')

  assert.equal((await inject('/api/long/short')).headers['x-cache'], 'MISS')
  assert.equal((await inject('/api/long/short')).headers['x-cache'], 'HIT')
  const storedShort = Date.now()
  await waitFor('max-age expiry', async () => (await inject('/api/long/short')).headers['x-cache'] === 'MISS', 3000)
  assert.ok(Date.now() - storedShort >= 500, 'max-age=1, not the 1 h ttl, expired it')
})

test('a conditional GET or HEAD whose validator still matches the stored response gets 304 from the cache, without the body', async (t) => {
  const lastModified = 'Mon, 23 Nov 2026 10:00:00 GMT'
  const up = await countingUpstream(t, () => ({ etag: '"v1, with a comma"', 'last-modified': lastModified, 'cache-control': 'public, max-age=600' }))
  const { inject } = await createGateway(t, baseConfig([svc(up)]))
  const first = await inject('/api/items/1')
  assert.equal(first.statusCode, 200)

  const notModified = [
    { 'if-none-match': '"v1, with a comma"' },
    { 'if-none-match': 'W/"v1, with a comma"' }, // weak comparison for GET and HEAD
    { 'if-none-match': '"other", "v1, with a comma"' },
    { 'if-none-match': '*' },
    { 'if-modified-since': lastModified },
    { 'if-modified-since': 'Tue, 24 Nov 2026 10:00:00 GMT' },
  ]
  for (const headers of notModified) {
    const res = await inject({ url: '/api/items/1', headers })
    assert.equal(res.statusCode, 304, JSON.stringify(headers))
    assert.equal(res.body, '')
    assert.equal(res.headers.etag, '"v1, with a comma"')
    assert.equal(res.headers['cache-control'], 'public, max-age=600')
    assert.equal(res.headers['x-cache'], 'HIT')
    assert.equal(res.headers['content-type'], undefined, 'no content headers on a 304')
  }
  const head = await inject({ method: 'HEAD', url: '/api/items/1', headers: { 'if-none-match': '"v1, with a comma"' } })
  assert.equal(head.statusCode, 304)

  const modified = [
    { 'if-none-match': '"v2"' },
    { 'if-none-match': '"v1"' }, // not split on the comma inside the tag
    // If-None-Match decides when present, whatever If-Modified-Since says.
    { 'if-none-match': '"v2"', 'if-modified-since': 'Tue, 24 Nov 2026 10:00:00 GMT' },
    { 'if-modified-since': 'Sun, 22 Nov 2026 10:00:00 GMT' },
    { 'if-modified-since': 'not a date' },
  ]
  for (const headers of modified) {
    const res = await inject({ url: '/api/items/1', headers })
    assert.equal(res.statusCode, 200, JSON.stringify(headers))
    assert.equal(res.body, first.body)
  }
  assert.equal(up.calls(), 1, 'all answered from the one stored response')
})
