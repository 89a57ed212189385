import { test } from 'node:test'
import assert from 'node:assert/strict'
import zlib from 'node:zlib'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { JWT_SECRET } from '../helpers/tokens.ts'
import { countingUpstream, svc } from './helpers.ts'

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
