import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, baseConfig } from '../helpers/gateway.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { countingUpstream, svc } from './helpers.ts'

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
