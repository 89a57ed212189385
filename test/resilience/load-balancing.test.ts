import { test } from 'node:test'
import assert from 'node:assert/strict'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'
import { quickBreaker, switchableUpstream, upstreamState } from './support.ts'

test('round-robin shares 200 requests between two upstreams within 10 %', async (t) => {
  const a = await switchableUpstream(t)
  const b = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [a.origin, b.origin], loadBalancing: 'round-robin' }]))
  for (let i = 0; i < 200; i++) assert.equal((await gw.inject(`/api/users/${i}`)).statusCode, 200)
  assert.equal(a.calls + b.calls, 200)
  assert.ok(Math.abs(a.calls - b.calls) <= 20, `a=${a.calls} b=${b.calls}`)
})

test('round-robin shares concurrent load too', async (t) => {
  const a = await switchableUpstream(t)
  const b = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [a.origin, b.origin] }]))
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => gw.inject(`/api/users/${i}`)))
  assert.ok(answers.every((r) => r.statusCode === 200))
  assert.ok(Math.abs(a.calls - b.calls) <= 20, `a=${a.calls} b=${b.calls}`)
})

test('least-connections sends new calls to the idle upstream while the other is busy with a slow one', async (t) => {
  const slow = await switchableUpstream(t, 'hang')
  const fast = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [slow.origin, fast.origin], loadBalancing: 'least-connections' }]))
  // Send until one call sticks on the slow upstream (the first tie may go either way).
  const pending: Array<ReturnType<typeof gw.inject>> = []
  const stuck = slow.nextRequest()
  // An object, not a let: the loop condition changes from a promise callback.
  const seen = { landed: false }
  void stuck.then(() => { seen.landed = true })
  for (let i = 0; i < 5 && !seen.landed; i++) {
    const p = gw.inject('/api/users/first')
    pending.push(p)
    await Promise.race([stuck, p])
  }
  assert.ok(seen.landed, 'one call is in flight on the slow upstream')
  assert.equal(upstreamState(gw, 'users', slow.origin).inflight, 1)

  const fastBefore = fast.calls
  for (let i = 0; i < 20; i++) assert.equal((await gw.inject(`/api/users/${i}`)).statusCode, 200)
  assert.equal(fast.calls - fastBefore, 20, 'every new call went to the idle upstream')
  assert.equal(slow.calls, 1)

  slow.behaviour = 'ok'
  for (const req of slow.hung) req.socket.destroy()
  await Promise.all(pending)
  await waitFor('the slow call to finish', () => upstreamState(gw, 'users', slow.origin).inflight === 0)
})

test('round-robin ignores load: half of the concurrent calls still go to the slow upstream', async (t) => {
  const slow = await switchableUpstream(t, 'hang')
  const fast = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [slow.origin, fast.origin], loadBalancing: 'round-robin' }]))
  const pending = Array.from({ length: 4 }, (_, i) => gw.inject(`/api/users/${i}`))
  await waitFor('two calls to reach the slow upstream', () => slow.hung.length === 2)
  for (const req of slow.hung) req.socket.destroy()
  await Promise.all(pending)
})

test('an upstream whose breaker is open is skipped while another is available', async (t) => {
  const bad = await switchableUpstream(t, 'fail')
  const good = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{
    name: 'users',
    prefix: '/api/users',
    upstreams: [bad.origin, good.origin],
    retries: 0,
    loadBalancing: 'least-connections',
    circuitBreaker: quickBreaker({ volumeThreshold: 2, resetTimeout: '30s' })
  }]))
  for (let i = 0; i < 6 && upstreamState(gw, 'users', bad.origin).circuit !== 'open'; i++) await gw.inject('/api/users/1')
  assert.equal(upstreamState(gw, 'users', bad.origin).circuit, 'open')
  const before = bad.calls
  for (let i = 0; i < 10; i++) assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  assert.equal(bad.calls, before)
})

test('every breaker open: 503 GW_CIRCUIT_OPEN, with the Retry-After of the first to half-open', async (t) => {
  const a = await switchableUpstream(t, 'fail')
  const b = await switchableUpstream(t, 'fail')
  const gw = await createGateway(t, baseConfig([{
    name: 'users',
    prefix: '/api/users',
    upstreams: [a.origin, b.origin],
    retries: 0,
    circuitBreaker: quickBreaker({ volumeThreshold: 1, resetTimeout: '20s' })
  }]))
  await gw.inject('/api/users/1')
  await gw.inject('/api/users/1')
  const res = await gw.inject('/api/users/1')
  assert.equal(res.statusCode, 503)
  assert.equal(res.json().code, 'GW_CIRCUIT_OPEN')
  assert.equal(res.headers['retry-after'], '20')
  assert.equal(a.calls + b.calls, 2)
})

test('every upstream marked down by its health check: 503 GW_NO_HEALTHY_UPSTREAM, no upstream call', async (t) => {
  const a = await switchableUpstream(t)
  const b = await switchableUpstream(t)
  a.healthStatus = 503
  b.healthStatus = 500
  const gw = await createGateway(t, baseConfig([{
    name: 'users',
    prefix: '/api/users',
    upstreams: [a.origin, b.origin],
    healthCheck: { path: '/health', interval: '50ms', unhealthyAfter: 1, healthyAfter: 1 }
  }]))
  await waitFor('both upstreams marked down', () =>
    !upstreamState(gw, 'users', a.origin).up && !upstreamState(gw, 'users', b.origin).up)
  const res = await gw.inject('/api/users/1')
  assert.equal(res.statusCode, 503)
  assert.equal(res.json().code, 'GW_NO_HEALTHY_UPSTREAM')
  assert.equal(a.calls + b.calls, 0)
})
