import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { JWT_SECRET, bearer, sign } from '../helpers/tokens.ts'

const APP = 'https://app.example.com'
const EVIL = 'https://evil.example.net'

function preflight (origin: string, method = 'POST', headers?: string) {
  const h: Record<string, string> = { origin, 'access-control-request-method': method }
  if (headers !== undefined) h['access-control-request-headers'] = headers
  return { method: 'OPTIONS' as const, url: '/api/users/1', headers: h }
}

const cors = { origins: [APP], methods: ['GET', 'POST'], headers: ['authorization', 'content-type'], maxAge: '10m' }

test('a preflight is answered 204 by the gateway: no upstream call, no token needed, no rate-limit budget spent', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], auth: 'required', cors, rateLimit: { max: 1, window: '1m', by: 'ip' } },
  ], { auth: { jwt: { secret: JWT_SECRET } }, rateLimit: { store: 'memory' } }))

  for (let i = 0; i < 5; i++) {
    const res = await inject(preflight(APP, 'POST', 'Authorization, Content-Type'))
    assert.equal(res.statusCode, 204)
    assert.equal(res.headers['access-control-allow-origin'], APP)
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST')
    assert.equal(res.headers['access-control-allow-headers'], 'authorization, content-type')
    assert.equal(res.headers['access-control-max-age'], '600')
    assert.equal(res.headers['access-control-allow-credentials'], undefined)
    assert.match(String(res.headers.vary), /Origin/)
    assert.equal(res.headers['x-ratelimit-remaining'], undefined, 'a preflight is not counted')
    assert.equal(res.body, '')
  }
  assert.equal(up.requests.length, 0)

  // The budget of one is intact: the real request gets through, the next one is limited.
  const real = await inject({ url: '/api/users/1', headers: { origin: APP, ...bearer(sign('alice')) } })
  assert.equal(real.statusCode, 200)
  assert.equal(real.headers['access-control-allow-origin'], APP)
  const limited = await inject({ url: '/api/users/1', headers: { origin: APP, ...bearer(sign('alice')) } })
  assert.equal(limited.statusCode, 429)
  // Gateway errors carry the CORS headers too, so browser code can read them.
  assert.equal(limited.headers['access-control-allow-origin'], APP)
  assert.equal(up.requests.length, 1)
})

test('a preflight from a disallowed origin, or for a method or header not allowed, is 403 GW_FORBIDDEN without CORS headers', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], cors },
  ]))

  for (const req of [preflight(EVIL), preflight(APP, 'DELETE'), preflight(APP, 'POST', 'x-debug'), preflight('null')]) {
    const res = await inject(req)
    assert.equal(res.statusCode, 403)
    assert.equal(res.json().code, 'GW_FORBIDDEN')
    assert.equal(res.headers['access-control-allow-origin'], undefined)
  }
  assert.equal(up.requests.length, 0)
})

test('actual requests: an allowed origin gets Access-Control-Allow-Origin and Vary: Origin; a disallowed one gets no CORS header, even one the upstream sent', async (t) => {
  const up = await createUpstream(t, (_req, res) => {
    // An upstream with a permissive policy of its own must not widen the gateway's.
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', vary: 'Accept-Language' })
    res.end('{"ok":true}')
  })
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], cors },
  ]))

  const allowed = await inject({ url: '/api/users/1', headers: { origin: APP } })
  assert.equal(allowed.statusCode, 200)
  assert.equal(allowed.headers['access-control-allow-origin'], APP)
  assert.equal(allowed.headers.vary, 'Accept-Language, Origin')
  assert.match(String(allowed.headers['access-control-expose-headers']), /X-Request-Id/)

  const disallowed = await inject({ url: '/api/users/1', headers: { origin: EVIL } })
  assert.equal(disallowed.statusCode, 200, 'the request is proxied; the browser withholds the response')
  assert.equal(disallowed.headers['access-control-allow-origin'], undefined)
  assert.equal(disallowed.headers.vary, 'Accept-Language, Origin')

  const sameOrigin = await inject({ url: '/api/users/1' })
  assert.equal(sameOrigin.headers['access-control-allow-origin'], undefined)
  assert.equal(up.requests.length, 3)
})

test('credentials: the exact origin is echoed with Access-Control-Allow-Credentials, never *', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], cors: { ...cors, credentials: true } },
  ]))

  const pre = await inject(preflight(APP))
  assert.equal(pre.statusCode, 204)
  assert.equal(pre.headers['access-control-allow-origin'], APP)
  assert.equal(pre.headers['access-control-allow-credentials'], 'true')
  const res = await inject({ url: '/api/users/1', headers: { origin: APP, cookie: 'sid=1' } })
  assert.equal(res.headers['access-control-allow-origin'], APP)
  assert.equal(res.headers['access-control-allow-credentials'], 'true')
  const evil = await inject({ url: '/api/users/1', headers: { origin: EVIL, cookie: 'sid=1' } })
  assert.equal(evil.headers['access-control-allow-origin'], undefined)
  assert.equal(evil.headers['access-control-allow-credentials'], undefined)
})

test('origins [*] without credentials: any origin gets Access-Control-Allow-Origin: *', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], cors: { origins: ['*'] } },
  ]))

  const pre = await inject(preflight(EVIL, 'PUT'))
  assert.equal(pre.statusCode, 204)
  assert.equal(pre.headers['access-control-allow-origin'], '*')
  const res = await inject({ url: '/api/users/1', headers: { origin: EVIL } })
  assert.equal(res.headers['access-control-allow-origin'], '*')
  assert.equal(res.headers.vary, undefined)
})

test('an OPTIONS request that is not a preflight is proxied; services without cors proxy preflights untouched', async (t) => {
  const up = await createUpstream(t)
  const { inject } = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [up.origin], cors },
    { name: 'orders', prefix: '/api/orders', upstreams: [up.origin] },
  ]))

  const plain = await inject({ method: 'OPTIONS', url: '/api/users/1', headers: { origin: APP } })
  assert.equal(plain.statusCode, 200)
  assert.equal(up.requests.length, 1)
  const other = await inject({ ...preflight(APP), url: '/api/orders/1' })
  assert.equal(other.statusCode, 200)
  assert.equal(other.headers['access-control-allow-origin'], undefined)
  assert.equal(up.requests.length, 2)
})
