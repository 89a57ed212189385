import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../apps/gateway/config/index.ts'
import { svc, lines, ok, tempDir } from './helpers.ts'

test('a minimal config with one service resolves to the SPEC defaults', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'gateway.yaml')
  await writeFile(file, [
    'auth:',
    '  jwt: { secret: s3cret }',
    'services:',
    '  - name: users',
    '    prefix: /api/users',
    '    upstreams: [http://127.0.0.1:3001]'
  ].join('\n'))
  const { config, problems } = await loadConfig(file, {})
  assert.deepEqual(problems, [])
  assert.deepEqual(config, {
    file,
    server: {
      host: '0.0.0.0',
      port: 8080,
      trustProxy: false,
      bodyLimit: 1024 * 1024,
      maxConnections: 10000,
      timeouts: { connectMs: 2000, upstreamMs: 30000, keepAliveMs: 5000, headersMs: 10000, drainMs: 30000 },
      tls: null,
      http2: false,
      httpRedirect: null
    },
    logging: { level: 'info', access: true },
    admin: { host: '127.0.0.1', port: 8081, token: null },
    servicesDir: null,
    auth: { jwt: { secret: 's3cret', algorithms: ['HS256'], clockToleranceMs: 5000, forwardAuthorization: true } },
    rateLimit: null,
    ipAccess: null,
    compression: false,
    tracing: null,
    registry: null,
    egress: null,
    services: [{
      name: 'users',
      prefix: '/api/users',
      upstreams: ['http://127.0.0.1:3001'],
      rewritePrefix: '',
      auth: 'required',
      scopes: [],
      rateLimit: null,
      circuitBreaker: { timeoutMs: 10000, errorThresholdPercentage: 50, volumeThreshold: 10, resetTimeoutMs: 10000 },
      loadBalancing: 'round-robin',
      healthCheck: null,
      retries: 1,
      websocket: false,
      routes: [],
      ipAccess: null,
      cors: null,
      cache: null,
      upstreamTls: null,
      source: 'config',
      file
    }]
  })
})

test('the SPEC example resolves: rate limit defaults, routes, health check', () => {
  const config = ok({
    server: { trustProxy: ['127.0.0.1/32', '::1'], timeouts: { connect: '1s' } },
    auth: { jwt: { secret: '${JWT_SECRET:-dev}', issuer: 'gatehouse-demo', audience: 'gatehouse', algorithms: ['HS256'], clockTolerance: '5s' } },
    rateLimit: { store: 'memory', default: { max: 100, window: '1m', by: 'consumer' } },
    services: [{
      name: 'users',
      prefix: '/api/users',
      upstreams: ['http://127.0.0.1:3001', 'HTTP://LocalHost:3002/'],
      rewritePrefix: '/users',
      scopes: ['users:read'],
      rateLimit: { max: 50, window: '1m' },
      circuitBreaker: { timeout: '3s' },
      loadBalancing: 'least-connections',
      healthCheck: { path: '/health' },
      routes: [{ methods: ['post', 'PUT', 'PATCH', 'DELETE'], path: '/api/users/*', scopes: ['users:write'] }]
    }]
  })
  assert.deepEqual(config.server.trustProxy, ['127.0.0.1/32', '::1/128'])
  assert.equal(config.server.timeouts.connectMs, 1000)
  assert.equal(config.auth.jwt?.secret, 'dev')
  assert.equal(config.auth.jwt?.issuer, 'gatehouse-demo')
  assert.deepEqual(config.rateLimit, {
    store: 'memory',
    redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'gatehouse:rl:', timeoutMs: 50 },
    onStoreError: 'local',
    default: { max: 100, windowMs: 60000, by: 'consumer' }
  })
  const s = config.services[0]
  assert.deepEqual(s.upstreams, ['http://127.0.0.1:3001', 'http://localhost:3002'])
  assert.deepEqual(s.rateLimit, { max: 50, windowMs: 60000, by: 'consumer' })
  assert.deepEqual(s.circuitBreaker, { timeoutMs: 3000, errorThresholdPercentage: 50, volumeThreshold: 10, resetTimeoutMs: 10000 })
  assert.deepEqual(s.healthCheck, { path: '/health', intervalMs: 5000, unhealthyAfter: 2, healthyAfter: 1 })
  assert.deepEqual(s.routes, [{ methods: ['POST', 'PUT', 'PATCH', 'DELETE'], path: '/api/users/*', scopes: ['users:write'] }])
})

test('a service rateLimit without a rateLimit section counts in memory with no default', () => {
  const config = ok({ services: [svc({ rateLimit: { max: 5, window: '10s', by: 'ip' } })] })
  assert.deepEqual(config.rateLimit, {
    store: 'memory',
    redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'gatehouse:rl:', timeoutMs: 50 },
    onStoreError: 'local',
    default: null
  })
  assert.deepEqual(config.services[0].rateLimit, { max: 5, windowMs: 10000, by: 'ip' })
})

test('the admin port must differ from the public port; an empty config file is all defaults', async (t) => {
  assert.deepEqual(lines({ server: { port: 9000 }, admin: { port: 9000 } }), ['gateway.yaml: admin.port: must differ from server.port'])
  const dir = await tempDir(t)
  await writeFile(join(dir, 'empty.yaml'), '# nothing yet\n')
  const { config, problems } = await loadConfig(join(dir, 'empty.yaml'), {})
  assert.deepEqual(problems, [])
  assert.equal(config?.services.length, 0)
})
