import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { metricValue } from '../helpers/metrics.ts'
import { quickBreaker, switchableUpstream, upstreamState, breakerOf } from './support.ts'
import { parseExposition, samples } from '../helpers/metrics.ts'

const ADMIN_TOKEN = 'resilience-test-admin-token'

async function gatewayWithBreaker (t: import('node:test').TestContext, origin: string, breaker: Record<string, unknown> = {}) {
  return createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [origin], retries: 0, circuitBreaker: quickBreaker(breaker) }],
    { admin: { token: ADMIN_TOKEN }, logging: { level: 'info', access: false } }))
}

test('the breaker opens only once volumeThreshold calls fail above errorThresholdPercentage', async (t) => {
  const up = await switchableUpstream(t)
  const gw = await gatewayWithBreaker(t, up.origin, { volumeThreshold: 4, errorThresholdPercentage: 50 })
  const state = upstreamState(gw, 'users', up.origin)

  // 2 successes + 2 failures: 4 calls (volume reached) at exactly 50 %, not above: stays closed.
  for (let i = 0; i < 2; i++) assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  up.behaviour = 'fail'
  for (let i = 0; i < 2; i++) assert.equal((await gw.inject('/api/users/1')).statusCode, 500, 'upstream 5xx is relayed')
  assert.equal(state.circuit, 'closed')

  // One more failure: 3 of 5 = 60 % > 50 %: open.
  assert.equal((await gw.inject('/api/users/1')).statusCode, 500)
  assert.equal(state.circuit, 'open')
  assert.equal(await metricValue(gw, 'gatehouse_circuit_state', { service: 'users', upstream: up.origin }), 2)
  assert.equal(await metricValue(gw, 'gatehouse_circuit_transitions_total', { service: 'users', upstream: up.origin, to: 'open' }), 1)
  assert.ok(gw.logs.some((l) => l.msg === 'circuit opened: upstream calls are refused' && l.service === 'users' && l.upstream === up.origin),
    'the transition is logged as an event')

  const admin = await gw.gateway.admin.inject({ url: '/admin/services/users', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  assert.deepEqual(admin.json().upstreams, [{ origin: up.origin, up: true, circuit: 'open' }])
})

test('below volumeThreshold even 100 % failures keep the breaker closed', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const gw = await gatewayWithBreaker(t, up.origin, { volumeThreshold: 4 })
  for (let i = 0; i < 3; i++) assert.equal((await gw.inject('/api/users/1')).statusCode, 500)
  assert.equal(upstreamState(gw, 'users', up.origin).circuit, 'closed')
  assert.equal((await gw.inject('/api/users/1')).statusCode, 500)
  assert.equal(upstreamState(gw, 'users', up.origin).circuit, 'open', 'the 4th failure reaches the volume')
})

test('while open, 50 concurrent requests get 503 GW_CIRCUIT_OPEN with Retry-After and make zero upstream calls', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const gw = await gatewayWithBreaker(t, up.origin, { volumeThreshold: 2, resetTimeout: '30s' })
  for (let i = 0; i < 2; i++) await gw.inject('/api/users/1')
  assert.equal(upstreamState(gw, 'users', up.origin).circuit, 'open')

  const before = up.calls
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => gw.inject(`/api/users/${i}`)))
  assert.equal(up.calls, before, 'no request reached the upstream')
  for (const res of answers) {
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().code, 'GW_CIRCUIT_OPEN')
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
    const retryAfter = Number(res.headers['retry-after'])
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 29 && retryAfter <= 30, `Retry-After ${res.headers['retry-after']} = whole seconds to half-open`)
    assert.ok(!res.body.includes('127.0.0.1'), 'no upstream address in the answer')
  }
})

test('half-open lets one probe through; its success closes the breaker', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const gw = await gatewayWithBreaker(t, up.origin, { volumeThreshold: 2, resetTimeout: '200ms' })
  const state = upstreamState(gw, 'users', up.origin)
  const halfOpen = once(breakerOf(state).opossum, 'halfOpen')
  for (let i = 0; i < 2; i++) await gw.inject('/api/users/1')
  assert.equal(state.circuit, 'open')
  assert.equal((await gw.inject('/api/users/1')).statusCode, 503)

  await halfOpen
  assert.equal(state.circuit, 'half-open')
  assert.equal(await metricValue(gw, 'gatehouse_circuit_state', { service: 'users', upstream: up.origin }), 1)

  // The probe hangs until released, so a second request meets a busy half-open breaker.
  up.behaviour = 'hang'
  const probe = gw.inject('/api/users/probe')
  await up.nextRequest()
  const second = await gw.inject('/api/users/2')
  assert.equal(second.statusCode, 503, 'only one probe at a time')
  assert.equal(second.headers['retry-after'], '1')

  up.hung[0]!.socket.destroy() // the client side gets a reset; make the next probe succeed instead
  up.behaviour = 'ok'
  assert.equal((await probe).statusCode, 502)
  assert.equal(up.calls, 3, 'two failures and the probe reached the upstream, the refused request did not')
  assert.equal(state.circuit, 'open', 'a failed probe re-opens the breaker')

  await once(breakerOf(state).opossum, 'halfOpen')
  assert.equal((await gw.inject('/api/users/3')).statusCode, 200)
  assert.equal(state.circuit, 'closed', 'a successful probe closes it')
  assert.equal((await gw.inject('/api/users/4')).statusCode, 200)
  assert.equal(await metricValue(gw, 'gatehouse_circuit_state', { service: 'users', upstream: up.origin }), 0)
  for (const [to, n] of [['open', 2], ['half_open', 2], ['closed', 1]] as const) {
    assert.equal(await metricValue(gw, 'gatehouse_circuit_transitions_total', { service: 'users', upstream: up.origin, to }), n, `transitions to ${to}`)
  }
  assert.ok(gw.logs.some((l) => l.msg === 'circuit closed: upstream recovered'))
})

test('a recovered breaker starts from a clean window: one failure after recovery does not re-open it', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const gw = await gatewayWithBreaker(t, up.origin, { volumeThreshold: 3, resetTimeout: '200ms' })
  const state = upstreamState(gw, 'users', up.origin)
  const halfOpen = once(breakerOf(state).opossum, 'halfOpen')
  for (let i = 0; i < 3; i++) await gw.inject('/api/users/1')
  assert.equal(state.circuit, 'open')
  await halfOpen
  up.behaviour = 'ok'
  assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  assert.equal(state.circuit, 'closed')
  up.behaviour = 'fail'
  assert.equal((await gw.inject('/api/users/1')).statusCode, 500)
  assert.equal(state.circuit, 'closed')
})

test('4xx answers are successes: 40 upstream 404s never open the breaker', async (t) => {
  const up = await switchableUpstream(t, 'not-found')
  const gw = await gatewayWithBreaker(t, up.origin, { volumeThreshold: 2, errorThresholdPercentage: 1 })
  for (let i = 0; i < 40; i++) assert.equal((await gw.inject('/api/users/missing')).statusCode, 404)
  assert.equal(upstreamState(gw, 'users', up.origin).circuit, 'closed')
  assert.equal(up.calls, 40)
  // The same settings do open on 5xx, so the threshold is not what kept it closed.
  up.behaviour = 'fail'
  for (let i = 0; i < 2; i++) await gw.inject('/api/users/1')
  assert.equal(upstreamState(gw, 'users', up.origin).circuit, 'open')
})

test('circuitBreaker: false means no breaker: failures never refuse a call', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin], retries: 0, circuitBreaker: false }]))
  for (let i = 0; i < 30; i++) assert.equal((await gw.inject('/api/users/1')).statusCode, 500)
  const state = upstreamState(gw, 'users', up.origin)
  assert.equal(state.breaker, null)
  assert.equal(state.circuit, 'closed')
  assert.equal(up.calls, 30)
})

test('breakers are per upstream origin: one failing origin does not open its sibling', async (t) => {
  const bad = await switchableUpstream(t, 'fail')
  const good = await switchableUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [bad.origin, good.origin], retries: 0, circuitBreaker: quickBreaker({ volumeThreshold: 2, resetTimeout: '30s' }) }]))
  for (let i = 0; i < 4; i++) await gw.inject('/api/users/1')
  assert.equal(upstreamState(gw, 'users', bad.origin).circuit, 'open')
  assert.equal(upstreamState(gw, 'users', good.origin).circuit, 'closed')
  // Ejected: every request now goes to the healthy origin.
  const before = bad.calls
  for (let i = 0; i < 10; i++) assert.equal((await gw.inject('/api/users/1')).statusCode, 200)
  assert.equal(bad.calls, before)
})

test('/metrics names breaker transitions to="open", "half_open" and "closed", the values SPEC gives', async (t) => {
  const up = await switchableUpstream(t, 'fail')
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin], retries: 0, circuitBreaker: quickBreaker({ volumeThreshold: 2 }) }]),
    { listen: true })
  const state = upstreamState(gw, 'users', up.origin)
  const halfOpen = once(breakerOf(state).opossum, 'halfOpen')
  for (let i = 0; i < 2; i++) assert.equal((await fetch(`${gw.url}/api/users/1`)).status, 500)
  assert.equal(state.circuit, 'open')
  await halfOpen
  up.behaviour = 'ok'
  assert.equal((await fetch(`${gw.url}/api/users/1`)).status, 200)
  assert.equal(state.circuit, 'closed')

  const res = await fetch(`${gw.adminUrl}/metrics`)
  const transitions = samples(parseExposition(await res.text()), 'gatehouse_circuit_transitions_total', { service: 'users', upstream: up.origin })
  assert.deepEqual(Object.fromEntries(transitions.map((s) => [s.labels.to, s.value])), { open: 1, half_open: 1, closed: 1 })
})
