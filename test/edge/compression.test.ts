import { test } from 'node:test'
import assert from 'node:assert/strict'
import zlib from 'node:zlib'
import type http from 'node:http'
import { request } from 'undici'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'

// 8 KiB of JSON-ish text: well above the 1 KiB threshold, and compressible.
const BODY = Buffer.from(JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item-${i}` })) }))
const SMALL = Buffer.from('{"ok":true,"pad":"' + 'x'.repeat(200) + '"}')

interface Reply { status?: number, headers: http.OutgoingHttpHeaders, body: Buffer, chunked?: boolean }

// Serves what each path asks for: /json (with Content-Length), /chunked (no length),
// /small, /gzipped (already encoded), /png, /no-transform, /empty (204).
function routes (req: http.IncomingMessage): Reply {
  const json = { 'content-type': 'application/json' }
  switch (new URL(req.url!, 'http://x').pathname) {
    case '/json': return { headers: json, body: BODY }
    case '/chunked': return { headers: json, body: SMALL, chunked: true }
    case '/small': return { headers: json, body: SMALL }
    case '/gzipped': return { headers: { ...json, 'content-encoding': 'gzip' }, body: zlib.gzipSync(BODY) }
    case '/png': return { headers: { 'content-type': 'image/png' }, body: BODY }
    case '/no-transform': return { headers: { ...json, 'cache-control': 'no-transform' }, body: BODY }
    case '/empty': return { status: 204, headers: {}, body: Buffer.alloc(0) }
    default: return { status: 404, headers: {}, body: Buffer.alloc(0) }
  }
}

async function setup (t: Parameters<typeof createUpstream>[0], compression: unknown = { threshold: '1kb', encodings: ['br', 'gzip'] }) {
  const up = await createUpstream(t, (req, res) => {
    const r = routes(req)
    const headers = { ...r.headers }
    if (!r.chunked && r.status !== 204) headers['content-length'] = r.body.length
    res.writeHead(r.status ?? 200, headers)
    if (r.chunked) res.write(r.body)
    res.end(r.chunked ? undefined : r.body)
  })
  // null: no `compression` key at all.
  const extra = compression === null ? {} : { compression }
  const { inject } = await createGateway(t, baseConfig([{ name: 'files', prefix: '/f', upstreams: [up.origin] }], extra))
  return (path: string, acceptEncoding?: string, method: 'GET' | 'HEAD' = 'GET') =>
    inject({ method, url: `/f${path}`, headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } })
}

test('gzip and br are negotiated by Accept-Encoding and decompress to the upstream bytes', async (t) => {
  const get = await setup(t)

  const gz = await get('/json', 'gzip')
  assert.equal(gz.headers['content-encoding'], 'gzip')
  // A small answer of known length is encoded whole (upstream-dispatcher.ts): its
  // encoded length is known and sent; a streamed one goes out chunked.
  assert.equal(gz.headers['content-length'], String(gz.rawPayload.length))
  assert.equal(gz.headers.vary, 'Accept-Encoding')
  assert.ok(gz.rawPayload.length < BODY.length)
  assert.deepEqual(zlib.gunzipSync(gz.rawPayload), BODY)

  const br = await get('/json', 'gzip, deflate, br')
  assert.equal(br.headers['content-encoding'], 'br', 'the configured order breaks ties')
  assert.deepEqual(zlib.brotliDecompressSync(br.rawPayload), BODY)

  // q-values decide before the configured order does.
  const prefGzip = await get('/json', 'br;q=0.5, gzip;q=0.9')
  assert.equal(prefGzip.headers['content-encoding'], 'gzip')
  assert.deepEqual(zlib.gunzipSync(prefGzip.rawPayload), BODY)
  assert.equal((await get('/json', 'br;q=0, *')).headers['content-encoding'], 'gzip')
  assert.equal((await get('/json', '*')).headers['content-encoding'], 'br')
})

test('no acceptable encoding: the body is sent as is, with its Content-Length and Vary: Accept-Encoding', async (t) => {
  const get = await setup(t)
  for (const ae of [undefined, 'identity', 'deflate', 'gzip;q=0, br;q=0']) {
    const res = await get('/json', ae)
    assert.equal(res.headers['content-encoding'], undefined, `Accept-Encoding: ${ae}`)
    assert.equal(res.headers['content-length'], String(BODY.length))
    assert.equal(res.headers.vary, 'Accept-Encoding')
    assert.deepEqual(res.rawPayload, BODY)
  }
})

test('an upstream that compressed already is passed through untouched', async (t) => {
  const get = await setup(t)
  const res = await get('/gzipped', 'br, gzip')
  assert.equal(res.headers['content-encoding'], 'gzip')
  assert.deepEqual(res.rawPayload, zlib.gzipSync(BODY), 'not re-encoded')
  assert.deepEqual(zlib.gunzipSync(res.rawPayload), BODY)
})

test('never compressed: below the threshold, already-compressed types, no-transform, HEAD, 204', async (t) => {
  const get = await setup(t)
  const small = await get('/small', 'gzip')
  assert.equal(small.headers['content-encoding'], undefined)
  assert.deepEqual(small.rawPayload, SMALL)
  const png = await get('/png', 'gzip')
  assert.equal(png.headers['content-encoding'], undefined)
  assert.deepEqual(png.rawPayload, BODY)
  const noTransform = await get('/no-transform', 'gzip')
  assert.equal(noTransform.headers['content-encoding'], undefined)
  assert.deepEqual(noTransform.rawPayload, BODY)
  const head = await get('/json', 'gzip', 'HEAD')
  assert.equal(head.statusCode, 200)
  assert.equal(head.headers['content-encoding'], undefined)
  assert.equal(head.headers['content-length'], String(BODY.length))
  const empty = await get('/empty', 'gzip')
  assert.equal(empty.statusCode, 204)
  assert.equal(empty.headers['content-encoding'], undefined)
})

test('a body of unknown length that ends under the threshold is not compressed', async (t) => {
  const get = await setup(t)
  const res = await get('/chunked', 'gzip')
  assert.equal(res.headers['content-encoding'], undefined)
  assert.deepEqual(res.rawPayload, SMALL)
})

for (const [name, compression] of [['unset (the default)', null], ['false', false]] as const) {
  test(`compression ${name}: nothing is encoded`, async (t) => {
    const get = await setup(t, compression)
    const res = await get('/json', 'gzip, br')
    assert.equal(res.headers['content-encoding'], undefined)
    assert.equal(res.headers.vary, undefined)
    assert.deepEqual(res.rawPayload, BODY)
  })
}

// 420 bytes, under the 1 KiB threshold; 3 KiB, over it. Each is served with a
// Content-Length, and chunked (no length) in several writes.
const UNDER = Buffer.from(JSON.stringify({ pad: 'u'.repeat(410) }))
const OVER = Buffer.from(JSON.stringify({ pad: 'o'.repeat(3062) }))

test('the threshold holds on the wire: bodies under it pass through as they came, with or without a Content-Length', async (t) => {
  assert.equal(UNDER.length, 420)
  const up = await createUpstream(t, (req, res) => {
    const [, framing, size] = new URL(req.url!, 'http://x').pathname.split('/')
    const body = size === 'under' ? UNDER : OVER
    if (framing === 'length') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
      res.end(body)
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    // Three chunks: the gateway must look past the first one to know the size.
    const third = Math.floor(body.length / 3)
    res.write(body.subarray(0, third))
    res.write(body.subarray(third, 2 * third))
    res.end(body.subarray(2 * third))
  })
  const { url } = await createGateway(t, baseConfig([{ name: 'files', prefix: '/f', upstreams: [up.origin] }],
    { compression: { threshold: '1kb', encodings: ['br', 'gzip'] } }), { listen: true })

  for (const framing of ['length', 'chunked']) {
    const under = await request(`${url}/f/${framing}/under`, { headers: { 'accept-encoding': 'br, gzip' } })
    const underBody = Buffer.from(await under.body.arrayBuffer())
    assert.equal(under.statusCode, 200)
    assert.equal(under.headers['content-encoding'], undefined, `${framing}: 420 bytes are under the threshold`)
    assert.deepEqual(underBody, UNDER, `${framing}: the body is passed through as it came`)

    const over = await request(`${url}/f/${framing}/over`, { headers: { 'accept-encoding': 'br, gzip' } })
    const overBody = Buffer.from(await over.body.arrayBuffer())
    assert.equal(over.headers['content-encoding'], 'br', `${framing}: 3 KiB are over the threshold`)
    assert.equal(over.headers['content-length'], framing === 'length' ? String(overBody.length) : undefined)
    assert.equal(over.headers.vary, 'Accept-Encoding')
    assert.deepEqual(zlib.brotliDecompressSync(overBody), OVER, `${framing}: every byte is encoded, the first ones too`)
  }
})
