import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { request } from 'undici'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'

test('graceful shutdown: readyz turns 503, the in-flight request completes, new connections are refused', async (t) => {
  let hold!: ServerResponse
  const up = await createUpstream(t, (_req, res) => { hold = res })
  const gw = await createGateway(t, baseConfig([{ name: 'slow', prefix: '/api/slow', upstreams: [up.origin] }]), { listen: true })

  assert.equal((await request(`${gw.adminUrl}/readyz`)).statusCode, 200)
  const arrived = up.nextRequest()
  const inflight = request(`${gw.url}/api/slow/work`)
  await arrived

  const done = gw.listening!.shutdown()
  const ready = await request(`${gw.adminUrl}/readyz`)
  assert.equal(ready.statusCode, 503)
  await ready.body.dump()

  hold.writeHead(200, { 'content-type': 'text/plain' })
  hold.end('finished')
  const res = await inflight
  assert.equal(res.statusCode, 200)
  assert.equal(await res.body.text(), 'finished')
  await done
  await assert.rejects(request(`${gw.url}/api/slow/work`), 'the public port no longer accepts')
})

test('closing the gateway twice (a second signal, a cleanup after shutdown) resolves both calls and closes once', async (t) => {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }], {
    rateLimit: { store: 'memory', default: { max: 100, window: '1m', by: 'ip' } },
  }))
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  const first = gw.gateway.close()
  const second = gw.gateway.close()
  assert.equal(first, second, 'the second call waits on the first close')
  await Promise.all([first, second])
  await gw.gateway.close()
})
