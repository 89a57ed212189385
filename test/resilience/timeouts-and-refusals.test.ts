import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { closedPort } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { quickBreaker, switchableUpstream, upstreamState, breakerOf } from './support.ts'

test('an upstream hanging past circuitBreaker.timeout answers 504, the upstream sees its connection closed, and the breaker counts it', async (t) => {
  const up = await switchableUpstream(t, 'hang')
  // The gateway ceiling is long; the breaker's shorter timeout is the one that applies.
  const gw = await createGateway(t, baseConfig([{ name: 'slow', prefix: '/api/slow', upstreams: [up.origin], retries: 1,
    circuitBreaker: quickBreaker({ timeout: '300ms', volumeThreshold: 2, resetTimeout: '30s' }) }],
  { server: { timeouts: { upstream: '30s' } } }))

  const started = performance.now()
  const first = gw.inject('/api/slow/1')
  const req = await up.nextRequest()
  const closed = once(req.socket, 'close')
  const res = await first
  assert.equal(res.statusCode, 504)
  assert.equal(res.json().code, 'GW_UPSTREAM_TIMEOUT')
  assert.ok(performance.now() - started < 5000, 'cut long before the breaker-less 30 s')
  await closed
  assert.equal(up.calls, 1, 'a timeout is never retried: the upstream had the request')

  const state = upstreamState(gw, 'slow', up.origin)
  assert.equal(breakerOf(state).opossum.stats.timeouts, 1)
  assert.equal(breakerOf(state).opossum.stats.failures, 1)
  assert.equal((await gw.inject('/api/slow/2')).statusCode, 504)
  assert.equal(state.circuit, 'open', 'two timeouts reach volumeThreshold 2 and open it')
  assert.equal((await gw.inject('/api/slow/3')).json().code, 'GW_CIRCUIT_OPEN')
  assert.equal(up.calls, 2)
})

test('a refused connection answers 502 GW_BAD_GATEWAY and counts as a breaker failure', async (t) => {
  const origin = `http://127.0.0.1:${await closedPort()}`
  const gw = await createGateway(t, baseConfig([{ name: 'gone', prefix: '/api/gone', upstreams: [origin], retries: 0,
    circuitBreaker: quickBreaker({ volumeThreshold: 3, resetTimeout: '30s' }) }]))
  for (let i = 0; i < 3; i++) {
    const res = await gw.inject('/api/gone/1')
    assert.equal(res.statusCode, 502)
    assert.equal(res.json().code, 'GW_BAD_GATEWAY')
    assert.ok(!res.body.includes(origin))
  }
  assert.equal(upstreamState(gw, 'gone', origin).circuit, 'open')
  const res = await gw.inject('/api/gone/1')
  assert.equal(res.statusCode, 503)
  assert.equal(res.json().code, 'GW_CIRCUIT_OPEN')
})

test('with a single upstream, a retry of a refused GET goes back to it and the client gets the original 502', async (t) => {
  const origin = `http://127.0.0.1:${await closedPort()}`
  const gw = await createGateway(t, baseConfig([{ name: 'gone', prefix: '/api/gone', upstreams: [origin], retries: 1,
    circuitBreaker: quickBreaker({ volumeThreshold: 1, resetTimeout: '30s' }) }]))
  // The first attempt opens the breaker (volume 1); the retry finds no upstream and the
  // client sees what really happened, not a 503 made by its own retry.
  const res = await gw.inject('/api/gone/1')
  assert.equal(res.statusCode, 502)
  assert.equal(res.json().code, 'GW_BAD_GATEWAY')
  assert.equal(upstreamState(gw, 'gone', origin).circuit, 'open')
})
