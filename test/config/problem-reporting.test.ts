import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatProblem, loadConfig } from '../../apps/gateway/config/index.ts'
import { svc, lines, ok, tempDir } from './helpers.ts'

test('every problem is reported at once, each with file and exact key path', () => {
  assert.deepEqual(lines({
    server: { port: 80800, timeouts: { upstream: 'soon' } },
    services: [
      svc(),
      svc({ name: 'orders', prefix: '/api/orders/', retries: 9 }),
      svc({ name: 'billing', prefix: '/api/billing', upstreams: ['http://127.0.0.1:3003', 'ftp://127.0.0.1'] }),
      svc({ name: 'Shop', prefix: '/api/shop', upstreams: ['127.0.0.1:3004'] })
    ]
  }), [
    'gateway.yaml: server.port: must be a port number (0-65535)',
    'gateway.yaml: server.timeouts.upstream: must be a duration: 250ms, 5s, 1m, 1h or a number of milliseconds',
    'gateway.yaml: services[1].retries: must be an integer from 0 to 5',
    'gateway.yaml: services[2].upstreams[1]: must be an http(s) URL',
    'gateway.yaml: services[3].name: must match [a-z0-9-]+ (lower-case letters, digits, -)',
    'gateway.yaml: services[3].upstreams[0]: must be an http(s) URL',
    'gateway.yaml: services[1].prefix: must not end with / (write /api/orders)'
  ])
})

test('SPEC message: services[2].upstreams[0]: must be an http(s) URL', () => {
  assert.deepEqual(lines({
    services: [svc({ name: 'a', prefix: '/a' }), svc({ name: 'b', prefix: '/b' }), svc({ name: 'c', prefix: '/c', upstreams: ['not a url'] })]
  }), ['gateway.yaml: services[2].upstreams[0]: must be an http(s) URL'])
})

test('an unknown key is an error at any depth, with a suggestion for typos', () => {
  assert.deepEqual(lines({
    rateLimt: { default: { max: 1, window: '1s' } },
    server: { timeouts: { conect: '1s' } },
    rateLimit: { redis: { url: 'redis://x', prefix: 'a' } },
    auth: { jwt: { secret: 'x', algorithm: 'HS256' } },
    services: [svc({
      rateLimt: { max: 1, window: '1s' },
      circuitBreaker: { timeout: '1s', treshold: 5 },
      routes: [{ path: '/api/users/x', scope: ['a'] }],
      cors: { origins: ['*'], allowCredentials: true }
    })]
  }), [
    'gateway.yaml: rateLimt: unknown key (did you mean "rateLimit"?)',
    'gateway.yaml: server.timeouts.conect: unknown key (did you mean "connect"?)',
    'gateway.yaml: rateLimit.redis.prefix: unknown key (allowed: url, keyPrefix, timeout)',
    'gateway.yaml: auth.jwt.algorithm: unknown key (did you mean "algorithms"?)',
    'gateway.yaml: services[0].rateLimt: unknown key (did you mean "rateLimit"?)',
    'gateway.yaml: services[0].circuitBreaker.treshold: unknown key (allowed: timeout, errorThresholdPercentage, volumeThreshold, resetTimeout)',
    'gateway.yaml: services[0].routes[0].scope: unknown key (did you mean "scopes"?)',
    'gateway.yaml: services[0].cors.allowCredentials: unknown key (allowed: origins, methods, headers, credentials, maxAge)'
  ])
})

test('enumerations list their allowed values; a YAML null (`key:`) means unset', () => {
  assert.deepEqual(lines({ logging: { level: 'verbose' }, rateLimit: { store: 'postgres', onStoreError: 'retry' }, services: [svc({ auth: 'maybe' })] }), [
    'gateway.yaml: logging.level: must be one of: fatal, error, warn, info, debug, trace, silent',
    'gateway.yaml: rateLimit.store: must be one of: memory, redis',
    'gateway.yaml: rateLimit.onStoreError: must be one of: local, deny, allow',
    'gateway.yaml: services[0].auth: must be one of: required, optional, none'
  ])
  const config = ok({ servicesDir: null, server: { port: null }, services: [svc({ rateLimit: null })] })
  assert.equal(config.servicesDir, null)
  assert.equal(config.server.port, 8080)
  assert.equal(config.services[0].rateLimit, null)
})

test('YAML problems in the main file: syntax with line number, duplicate keys, a list at the top', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'gateway.yaml')
  await writeFile(file, 'server:\n  port: 8080\n  port: 8081\n')
  let r = await loadConfig(file, {})
  assert.equal(r.config, null)
  assert.match(formatProblem(r.problems[0]), /^gateway\.yaml: YAML syntax error at line 3, column 3: .*unique/)
  await writeFile(file, 'server:\n  port: [8080\n')
  r = await loadConfig(file, {})
  assert.match(formatProblem(r.problems[0]), /^gateway\.yaml: YAML syntax error at line \d+, column \d+: /)
  await writeFile(file, '- a\n- b\n')
  r = await loadConfig(file, {})
  assert.deepEqual(r.problems.map(formatProblem), ['gateway.yaml: must be a YAML mapping of settings (server, services, ...)'])
})
