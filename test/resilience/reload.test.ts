import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { buildGateway } from '../../apps/gateway/app.ts'
import { baseConfig, createGateway, resolveOrThrow } from '../helpers/gateway.ts'
import { metricValue } from '../helpers/metrics.ts'
import { waitFor } from '../helpers/wait.ts'
import { quickBreaker, switchableUpstream, upstreamState, breakerOf, healthOf } from './support.ts'

test('an unchanged service keeps its open breaker (and its health) across applyServices; changed and removed upstreams are shut down', async (t) => {
  const users = await switchableUpstream(t, 'fail')
  const orders = await switchableUpstream(t)
  const catalog = await switchableUpstream(t)
  const usersSvc = {
    name: 'users',
    prefix: '/api/users',
    upstreams: [users.origin],
    retries: 0,
    circuitBreaker: quickBreaker({ volumeThreshold: 2, resetTimeout: '30s' }),
    // Long enough that a loaded test machine never times a check out (timeout = interval).
    healthCheck: { path: '/health', interval: '200ms', unhealthyAfter: 3, healthyAfter: 1 }
  }
  const ordersSvc = { name: 'orders', prefix: '/api/orders', upstreams: [orders.origin], circuitBreaker: quickBreaker({ volumeThreshold: 2 }) }
  const catalogSvc = {
    name: 'catalog',
    prefix: '/api/catalog',
    upstreams: [catalog.origin],
    healthCheck: { path: '/health', interval: '200ms', unhealthyAfter: 3, healthyAfter: 1 }
  }
  const gw = await createGateway(t, baseConfig([usersSvc, ordersSvc, catalogSvc]))

  for (let i = 0; i < 2; i++) await gw.inject('/api/users/1')
  const usersState = upstreamState(gw, 'users', users.origin)
  assert.equal(usersState.circuit, 'open')
  const ordersBefore = upstreamState(gw, 'orders', orders.origin)
  const catalogBefore = upstreamState(gw, 'catalog', catalog.origin)
  await waitFor('a catalog health check', () => catalog.requests.some((r) => r.url === '/health'))

  // orders changes its breaker settings, catalog goes away, users is untouched.
  const next = resolveOrThrow(baseConfig([usersSvc, { ...ordersSvc, circuitBreaker: quickBreaker({ volumeThreshold: 7 }) }])).services
  await gw.gateway.applyServices(next)

  assert.equal(upstreamState(gw, 'users', users.origin), usersState, 'the same state object carries over')
  assert.equal(usersState.circuit, 'open')
  assert.equal(breakerOf(usersState).opossum.opened, true)
  const res = await gw.inject('/api/users/1')
  assert.equal(res.statusCode, 503)
  assert.equal(res.json().code, 'GW_CIRCUIT_OPEN')
  assert.equal(users.calls, 2, 'still no upstream call after the reload')
  assert.equal(await metricValue(gw, 'gatehouse_circuit_state', { service: 'users', upstream: users.origin }), 2)

  const ordersAfter = upstreamState(gw, 'orders', orders.origin)
  assert.notEqual(ordersAfter, ordersBefore, 'a changed breaker config gets a new breaker')
  assert.equal(breakerOf(ordersBefore).opossum.isShutdown, true, 'the replaced breaker is shut down')
  assert.equal(breakerOf(ordersAfter).config.volumeThreshold, 7)
  assert.equal(await metricValue(gw, 'gatehouse_circuit_state', { service: 'orders', upstream: orders.origin }), 0, 'its series stays')

  assert.equal(breakerOf(catalogBefore).opossum.isShutdown, true, 'the removed upstream\'s breaker is shut down')
  assert.equal(healthOf(catalogBefore).active, false, 'and its health check stopped')
  assert.equal(await metricValue(gw, 'gatehouse_circuit_state', { service: 'catalog', upstream: catalog.origin }), undefined)
  assert.equal(await metricValue(gw, 'gatehouse_upstream_up', { service: 'catalog', upstream: catalog.origin }), undefined)
  // Its health timer is gone: while users is checked twice more, catalog never is (counted
  // from the first users check after the reload, by when a check already on the wire has landed).
  const usersChecks = () => users.requests.filter((r) => r.url === '/health').length
  const base = usersChecks()
  await waitFor('a users health check after the reload', () => usersChecks() >= base + 1)
  const catalogChecks = catalog.requests.length
  await waitFor('two more users health checks', () => usersChecks() >= base + 3)
  assert.equal(catalog.requests.length, catalogChecks, 'the removed upstream is no longer health-checked')
})

test('gateway.close() stops every breaker and health-check timer', async (t) => {
  const up = await switchableUpstream(t)
  const config = resolveOrThrow(baseConfig([{
    name: 'users',
    prefix: '/api/users',
    upstreams: [up.origin],
    healthCheck: { path: '/health', interval: '20ms', unhealthyAfter: 3, healthyAfter: 1 }
  }]))
  // Built directly: this test closes it itself.
  const gateway = await buildGateway(config, { logger: pino({ level: 'silent' }) as unknown as FastifyBaseLogger })
  let closed = false
  t.after(async () => { if (!closed) await gateway.close() })
  await waitFor('a health check', () => up.requests.length > 0)
  const state = gateway.current().services[0]!.upstreams[0]!
  assert.equal(healthOf(state).active, true)
  await gateway.close()
  closed = true
  assert.equal(breakerOf(state).opossum.isShutdown, true)
  assert.equal(healthOf(state).active, false, 'no health check running or scheduled')
})
