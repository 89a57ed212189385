import { test } from 'node:test'
import assert from 'node:assert/strict'
import { svc, lines, ok } from './helpers.ts'

test('prefixes: leading slash, no trailing slash, no .., %, ?, #; names and prefixes unique in the file', () => {
  assert.deepEqual(lines({
    services: [
      svc({ name: 'a', prefix: 'api/a' }),
      svc({ name: 'b', prefix: '/api/../b' }),
      svc({ name: 'c', prefix: '/api/%2e' }),
      svc({ name: 'd', prefix: '/api/d?x' }),
      svc({ name: 'e', prefix: '/api/e#x' }),
      // `/` alone is the catch-all prefix: accepted (test/config/check-command.test.ts).
      svc({ name: 'f', prefix: '/' }),
      svc({ name: 'g', prefix: '/api//g' }),
      svc({ name: 'h', prefix: '/api/h' }),
      svc({ name: 'h', prefix: '/api/h' })
    ]
  }), [
    'gateway.yaml: services[0].prefix: must start with /',
    'gateway.yaml: services[1].prefix: must not contain . or .. segments',
    'gateway.yaml: services[2].prefix: must not contain "%"',
    'gateway.yaml: services[3].prefix: must not contain "?"',
    'gateway.yaml: services[4].prefix: must not contain "#"',
    'gateway.yaml: services[6].prefix: must not contain empty segments (//)',
    'gateway.yaml: services[8].name: duplicate service name "h" (also gateway.yaml: services[7].name)',
    'gateway.yaml: services[8].prefix: duplicate prefix "/api/h" (also service "h", gateway.yaml: services[7].prefix)'
  ])
})

test('upstreams are origins: no path, query or credentials; the list is not empty', () => {
  assert.deepEqual(lines({
    services: [
      svc({ name: 'a', prefix: '/a', upstreams: ['http://127.0.0.1:3001/v1'] }),
      svc({ name: 'b', prefix: '/b', upstreams: ['http://user:pw@127.0.0.1:3001'] }),
      svc({ name: 'c', prefix: '/c', upstreams: ['http://127.0.0.1:3001/?x=1'] }),
      svc({ name: 'd', prefix: '/d', upstreams: [] }),
      svc({ name: 'e', prefix: '/e', upstreams: ['http://127.0.0.1:3001', 'http://127.0.0.1:3001/'] }),
      { name: 'f', prefix: '/f', auth: 'none' }
    ]
  }), [
    'gateway.yaml: services[3].upstreams: must be a non-empty list of http(s) URLs',
    'gateway.yaml: services[5].upstreams: is required',
    'gateway.yaml: services[0].upstreams[0]: must be an origin without a path (got /v1; use rewritePrefix)',
    'gateway.yaml: services[1].upstreams[0]: must not contain credentials',
    'gateway.yaml: services[2].upstreams[0]: must not contain a query or fragment',
    'gateway.yaml: services[4].upstreams[1]: duplicate upstream (same origin as upstreams[0])'
  ])
})

test('routes: path under the service prefix, only a final /*, valid HTTP methods', () => {
  assert.deepEqual(lines({
    services: [svc({
      routes: [
        { path: '/api/orders/*', auth: 'none' },
        { path: '/api/usersX', auth: 'none' },
        { path: '/api/users/*/x', auth: 'none' },
        { path: '/api/users', methods: ['GET', 'FETCH'], rateLimit: { max: 0, window: '0s' } }
      ]
    })]
  }), [
    'gateway.yaml: services[0].routes[3].rateLimit.max: must be a positive integer',
    'gateway.yaml: services[0].routes[0].path: must start with the service prefix /api/users',
    'gateway.yaml: services[0].routes[1].path: must start with the service prefix /api/users',
    'gateway.yaml: services[0].routes[2].path: may only use * as a final /* segment',
    'gateway.yaml: services[0].routes[3].methods[1]: must be an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE)',
    'gateway.yaml: services[0].routes[3].rateLimit.window: must be greater than 0'
  ])
})

test('rateLimit: false / objects, circuitBreaker: false, and the wrong kinds of value', () => {
  const config = ok({ services: [svc({ rateLimit: false, circuitBreaker: false, routes: [{ path: '/api/users/x', rateLimit: false }] })] })
  assert.equal(config.services[0].rateLimit, false)
  assert.equal(config.services[0].circuitBreaker, false)
  assert.equal(config.rateLimit, null)
  assert.deepEqual(lines({ services: [svc({ rateLimit: true, circuitBreaker: 'off', healthCheck: { path: 'health' } })] }), [
    'gateway.yaml: services[0].rateLimit: must be false or a mapping',
    'gateway.yaml: services[0].circuitBreaker: must be false or a mapping',
    'gateway.yaml: services[0].healthCheck.path: must start with /'
  ])
})
