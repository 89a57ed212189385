import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ipBudgetKey } from '../../plugins/rate-limit/client-key.ts'
import { limitFor, resolveServiceLimits, serviceKeyBase } from '../../plugins/rate-limit/policies.ts'
import { createGatewayMetrics } from '../../plugins/metrics/gateway-metrics.ts'
import type { RateLimitConfig, ServiceConfig } from '../../apps/gateway/config/types.ts'
import { resolveOrThrow } from '../helpers/gateway.ts'

test('an IPv6 address counts as its /64: rotation inside it yields the same key', () => {
  const key = ipBudgetKey('2001:db8:1:2::1')
  assert.equal(ipBudgetKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), key)
  assert.equal(ipBudgetKey('2001:0DB8:0001:0002:0:0:0:7'), key)
  assert.notEqual(ipBudgetKey('2001:db8:1:3::1'), key)
  assert.notEqual(ipBudgetKey('2001:db8:2:2::1'), key)
})

test('IPv4 (plain or IPv4-mapped IPv6) counts per address', () => {
  assert.equal(ipBudgetKey('198.51.100.7'), '198.51.100.7')
  assert.equal(ipBudgetKey('::ffff:198.51.100.7'), '198.51.100.7')
  assert.notEqual(ipBudgetKey('198.51.100.8'), ipBudgetKey('198.51.100.7'))
})

test('an unparseable address (odd X-Forwarded-For entry from a trusted proxy) is still a stable key', () => {
  assert.equal(ipBudgetKey('not:an:address::zz'), 'not:an:address::zz')
})

test('service and route counters live under distinct keys no consumer id can collide with', () => {
  assert.equal(serviceKeyBase('gatehouse:rl:', 'users'), 'gatehouse:rl:users:')
  assert.equal(serviceKeyBase('gatehouse:rl:', 'users', 0), 'gatehouse:rl:users#0:')
})

function service (raw: Record<string, unknown>): { svc: ServiceConfig; rl: RateLimitConfig } {
  const config = resolveOrThrow({
    rateLimit: { default: { max: 100, window: '1m' } },
    services: [{ name: 'users', prefix: '/api/users', upstreams: ['http://127.0.0.1:1'], auth: 'none', ...raw }],
  })
  return { svc: config.services[0]!, rl: config.rateLimit! }
}

test('policy precedence: route rateLimit > service rateLimit > rateLimit.default; first matching route wins', () => {
  const metrics = createGatewayMetrics()
  const { svc, rl } = service({
    rateLimit: { max: 10, window: '1m' },
    routes: [
      { path: '/api/users/health', rateLimit: false },
      { methods: ['GET'], path: '/api/users/*', scopes: [] },
      { path: '/api/users/*', rateLimit: { max: 1, window: '1s', by: 'ip' } },
    ],
  })
  const limits = resolveServiceLimits(svc, rl, metrics)!
  assert.equal(limitFor(limits, 'GET', '/api/users/health'), null)
  assert.equal(limitFor(limits, 'GET', '/api/users/7')!.keyBase, 'gatehouse:rl:users:', 'route 1 matched first and sets no limit')
  assert.equal(limitFor(limits, 'HEAD', '/api/users/7')!.keyBase, 'gatehouse:rl:users:')
  const post = limitFor(limits, 'POST', '/api/users/7?x=1')!
  assert.equal(post.keyBase, 'gatehouse:rl:users#2:')
  assert.equal(post.max, 1)
  assert.equal(post.byIp, true)
  assert.equal(limitFor(limits, 'POST', '/api/users')!.max, 10, 'no further segment: the service policy')

  const { svc: fallback, rl: rl2 } = service({})
  assert.equal(limitFor(resolveServiceLimits(fallback, rl2, metrics)!, 'GET', '/api/users')!.max, 100)
  const { svc: off, rl: rl3 } = service({ rateLimit: false })
  assert.equal(resolveServiceLimits(off, rl3, metrics), null)
})
