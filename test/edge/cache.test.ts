import { test } from 'node:test'
import assert from 'node:assert/strict'
import zlib from 'node:zlib'
import type http from 'node:http'
import { request } from 'undici'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream, type Upstream } from '../helpers/upstream.ts'
import { JWT_SECRET, bearer, gate, metricValue, waitFor } from './helpers.ts'
import type { Gateway } from '../../apps/gateway/app.ts'

// An upstream that counts its calls and answers each with a body naming the call, so a
// test can tell a cached answer (an old call number) from a fresh one.
async function countingUpstream (t: Parameters<typeof createUpstream>[0],
  headers: (req: http.IncomingMessage) => http.OutgoingHttpHeaders = () => ({}),
  hold?: Promise<void>): Promise<Upstream & { calls: () => number }> {
  let calls = 0
  const up = await createUpstream(t, (req, res) => {
    const n = ++calls
    const body = JSON.stringify({
      call: n,
      url: req.url,
      consumer: req.headers['x-consumer-id'] ?? null,
      lang: req.headers['accept-language'] ?? null,
      variant: req.headers['x-variant'] ?? null
    })
    const send = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers(req) })
      res.end(body)
    }
    if (hold === undefined) send()
    else void hold.then(send)
  })
  return Object.assign(up, { calls: () => calls })
}

function svc (up: Upstream, extra: Record<string, unknown> = {}) {
  return { name: 'items', prefix: '/api/items', upstreams: [up.origin], cache: { ttl: '1m' }, ...extra }
}

async function cacheMetric (gateway: Gateway, result: string) {
  return metricValue(gateway, 'cacheRequests', { service: 'items', result })
}

test('100 concurrent GETs for a cold key make exactly one upstream call; the rest wait and are served from it', async (t) => {
  const release = gate()
  const up = await countingUpstream(t, () => ({}), release.promise)
  const { url, gateway } = await createGateway(t, baseConfig([svc(up)]), { listen: true })

  const pending = Array.from({ length: 100 }, () => request(`${url}/api/items/cold?x=1`))
  // The leader's call is held at the upstream until the other 99 are waiting on it.
  const { flights } = gateway.ctx.cacheStores.forService(gateway.current().services[0]!.config)
  await waitFor(() => (flights.get('/api/items/cold?x=1')?.waiters.length ?? 0) === 99, '99 waiting requests')
  assert.equal(up.calls(), 1)
  release.open()

  const results = await Promise.all(pending.map(async (p) => {
    const res = await p
    return { status: res.statusCode, xCache: res.headers['x-cache'], body: await res.body.text() }
  }))
  assert.equal(up.calls(), 1)
  assert.ok(results.every((r) => r.status === 200 && JSON.parse(r.body).call === 1))
  assert.equal(results.filter((r) => r.xCache === 'MISS').length, 1)
  assert.equal(results.filter((r) => r.xCache === 'HIT').length, 99)
  assert.equal(await cacheMetric(gateway, 'miss'), 1)
  assert.equal(await cacheMetric(gateway, 'hit'), 99)
  // And the key is warm now.
  const again = await request(`${url}/api/items/cold?x=1`)
  assert.equal(again.headers['x-cache'], 'HIT')
  await again.body.dump()
  assert.equal(up.calls(), 1)
})

test('when the leader\'s answer cannot be stored, every waiter goes upstream itself instead of hanging', async (t) => {
  const release = gate()
  const up = await countingUpstream(t, () => ({ 'cache-control': 'no-store' }), release.promise)
  const { url, gateway } = await createGateway(t, baseConfig([svc(up)]), { listen: true })

  const pending = Array.from({ length: 5 }, () => request(`${url}/api/items/1`))
  const { flights } = gateway.ctx.cacheStores.forService(gateway.current().services[0]!.config)
  await waitFor(() => (flights.get('/api/items/1')?.waiters.length ?? 0) === 4, '4 waiting requests')
  release.open()
  const results = await Promise.all(pending.map(async (p) => {
    const res = await p
    return { status: res.statusCode, xCache: res.headers['x-cache'], call: JSON.parse(await res.body.text()).call }
  }))
  assert.equal(up.calls(), 5)
  assert.ok(results.every((r) => r.status === 200 && r.xCache === 'MISS'))
  assert.deepEqual(results.map((r) => r.call).sort(), [1, 2, 3, 4, 5])
})

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

for (const cc of ['no-store', 'private', 'no-cache', 'max-age=0', 's-maxage=0, max-age=600']) {
  test(`Cache-Control: ${cc} is never served from the cache`, async (t) => {
    const up = await countingUpstream(t, () => ({ 'cache-control': cc }))
    const { inject } = await createGateway(t, baseConfig([svc(up)]))
    for (let i = 1; i <= 3; i++) {
      const res = await inject('/api/items/1')
      assert.equal(res.headers['x-cache'], 'MISS')
      assert.equal(res.json().call, i)
    }
    assert.equal(up.calls(), 3)
  })
}

test('responses with Set-Cookie or Vary: * are never stored', async (t) => {
  const up = await countingUpstream(t, (req) => req.url!.endsWith('cookie') ? { 'set-cookie': 'sid=secret' } : { vary: '*' })
  const { inject } = await createGateway(t, baseConfig([svc(up)]))
  for (const path of ['/api/items/cookie', '/api/items/cookie', '/api/items/star', '/api/items/star']) {
    assert.equal((await inject(path)).headers['x-cache'], 'MISS')
  }
  assert.equal(up.calls(), 4)
})

test('a request with credentials is never answered from or stored in the shared cache', async (t) => {
  const up = await countingUpstream(t)
  const { inject, gateway } = await createGateway(t, baseConfig([svc(up, { auth: 'required' })],
    { auth: { jwt: { secret: JWT_SECRET } } }))

  const alice = await inject({ url: '/api/items/me', headers: bearer('alice') })
  const bob = await inject({ url: '/api/items/me', headers: bearer('bob') })
  const alice2 = await inject({ url: '/api/items/me', headers: bearer('alice') })
  assert.equal(alice.json().consumer, 'alice')
  assert.equal(bob.json().consumer, 'bob')
  assert.equal(alice2.json().call, 3, 'not served from the cache either')
  assert.equal(up.calls(), 3)
  assert.equal(await cacheMetric(gateway, 'bypass'), 3)
})

test('an Authorization header on a service without auth also bypasses the shared cache', async (t) => {
  const up = await countingUpstream(t)
  const { inject } = await createGateway(t, baseConfig([svc(up)]))
  await inject('/api/items/1')
  const withCreds = await inject({ url: '/api/items/1', headers: { authorization: 'Basic dTpw' } })
  assert.equal(withCreds.headers['x-cache'], 'MISS')
  assert.equal(withCreds.json().call, 2)
})

test('perConsumer: each consumer has its own entries, never another consumer\'s', async (t) => {
  const up = await countingUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    svc(up, { auth: 'required', cache: { ttl: '1m', perConsumer: true } }),
  ], { auth: { jwt: { secret: JWT_SECRET } } }))

  const a1 = await inject({ url: '/api/items/me', headers: bearer('alice') })
  const b1 = await inject({ url: '/api/items/me', headers: bearer('bob') })
  const a2 = await inject({ url: '/api/items/me', headers: bearer('alice') })
  const b2 = await inject({ url: '/api/items/me', headers: bearer('bob') })
  assert.equal(up.calls(), 2)
  assert.deepEqual([a1.json().consumer, b1.json().consumer, a2.json().consumer, b2.json().consumer], ['alice', 'bob', 'alice', 'bob'])
  assert.deepEqual([a2.headers['x-cache'], b2.headers['x-cache']], ['HIT', 'HIT'])
})

test('configured vary headers and the response\'s own Vary keep variants apart', async (t) => {
  const up = await countingUpstream(t, () => ({ vary: 'X-Variant' }))
  const { inject } = await createGateway(t, baseConfig([svc(up, { cache: { ttl: '1m', vary: ['accept-language'] } })]))
  const get = (lang: string, variant: string) => inject({ url: '/api/items/1', headers: { 'accept-language': lang, 'x-variant': variant } })

  assert.equal((await get('en', 'a')).json().lang, 'en')
  assert.equal((await get('fr', 'a')).json().lang, 'fr')
  const enA = await get('en', 'a')
  assert.equal(enA.headers['x-cache'], 'HIT')
  assert.equal(enA.json().lang, 'en')
  // Same key, but the stored response varies on X-Variant: b is not a.
  const enB = await get('en', 'b')
  assert.equal(enB.headers['x-cache'], 'MISS')
  assert.equal(enB.json().variant, 'b')
  assert.equal(up.calls(), 3)
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
  await waitFor(async () => (await inject('/api/items/1')).headers['x-cache'] === 'MISS', 'ttl expiry', 2000)
  assert.ok(Date.now() - stored >= 150, 'not before the ttl')

  assert.equal((await inject('/api/long/short')).headers['x-cache'], 'MISS')
  assert.equal((await inject('/api/long/short')).headers['x-cache'], 'HIT')
  const storedShort = Date.now()
  await waitFor(async () => (await inject('/api/long/short')).headers['x-cache'] === 'MISS', 'max-age expiry', 3000)
  assert.ok(Date.now() - storedShort >= 500, 'max-age=1, not the 1 h ttl, expired it')
})

test('only GET (and HEAD from a GET\'s entry) is cached; a body over 1 MiB streams through and is not stored', async (t) => {
  const big = Buffer.alloc(1024 * 1024 + 10, 'a')
  let calls = 0
  const up = await createUpstream(t, (req, res) => {
    calls++
    const body = req.url!.endsWith('big') ? big : Buffer.from(`{"call":${calls}}`)
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.end(body)
  })
  const { inject } = await createGateway(t, baseConfig([svc(up)]))

  assert.equal((await inject({ method: 'POST', url: '/api/items/1', payload: 'x' })).headers['x-cache'], undefined)
  assert.equal((await inject({ method: 'POST', url: '/api/items/1', payload: 'x' })).headers['x-cache'], undefined)
  assert.equal((await inject({ method: 'HEAD', url: '/api/items/1' })).headers['x-cache'], 'MISS')
  assert.equal(calls, 3)
  for (let i = 0; i < 2; i++) {
    const res = await inject('/api/items/big')
    assert.equal(res.headers['x-cache'], 'MISS')
    assert.deepEqual(res.rawPayload, big)
  }
  assert.equal(calls, 5)
})

test('hits still pass ip access, auth and rate limits', async (t) => {
  const up = await countingUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    svc(up, { auth: 'optional', ipAccess: { deny: ['192.0.2.0/24'] }, rateLimit: { max: 2, window: '1m', by: 'ip' } }),
  ], { auth: { jwt: { secret: JWT_SECRET } }, rateLimit: { store: 'memory' } }))

  assert.equal((await inject('/api/items/1')).headers['x-cache'], 'MISS')
  const hit = await inject('/api/items/1')
  assert.equal(hit.headers['x-cache'], 'HIT')
  assert.equal(hit.headers['x-ratelimit-remaining'], '0', 'a hit is counted')
  assert.equal((await inject('/api/items/1')).statusCode, 429)
  assert.equal((await inject({ url: '/api/items/1', remoteAddress: '192.0.2.1' })).statusCode, 403)
  assert.equal((await inject({ url: '/api/items/1', remoteAddress: '198.51.100.1', headers: { authorization: 'Bearer nope' } })).statusCode, 401)
  assert.equal(up.calls(), 1)
})

test('a cached body is compressed per client, and stored uncompressed', async (t) => {
  const body = Buffer.from(JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ i }))))
  let calls = 0
  const up = await createUpstream(t, (_req, res) => {
    calls++
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
    res.end(body)
  })
  const { inject } = await createGateway(t, baseConfig([svc(up)], { compression: { threshold: '1kb' } }))

  const miss = await inject({ url: '/api/items/1', headers: { 'accept-encoding': 'gzip' } })
  assert.equal(miss.headers['content-encoding'], 'gzip')
  assert.deepEqual(zlib.gunzipSync(miss.rawPayload), body)
  const br = await inject({ url: '/api/items/1', headers: { 'accept-encoding': 'br' } })
  assert.equal(br.headers['x-cache'], 'HIT')
  assert.equal(br.headers['content-encoding'], 'br')
  assert.deepEqual(zlib.brotliDecompressSync(br.rawPayload), body)
  const plain = await inject('/api/items/1')
  assert.equal(plain.headers['x-cache'], 'HIT')
  assert.equal(plain.headers['content-encoding'], undefined)
  assert.deepEqual(plain.rawPayload, body)
  assert.equal(calls, 1)
})

test('the cache survives a reload that leaves the service unchanged, and starts empty when its cache settings change', async (t) => {
  const up = await countingUpstream(t)
  const { inject, gateway } = await createGateway(t, baseConfig([svc(up)]))
  const services = gateway.ctx.config.services

  assert.equal((await inject('/api/items/1')).headers['x-cache'], 'MISS')
  await gateway.applyServices(services.map((s) => ({ ...s })))
  assert.equal((await inject('/api/items/1')).headers['x-cache'], 'HIT')
  await gateway.applyServices(services.map((s) => ({ ...s, cache: { ...s.cache!, ttlMs: 30_000 } })))
  assert.equal((await inject('/api/items/1')).headers['x-cache'], 'MISS')
  assert.equal(up.calls(), 2)
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
