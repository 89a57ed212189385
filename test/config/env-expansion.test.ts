import { test } from 'node:test'
import assert from 'node:assert/strict'
import { expandString, formatProblem, resolveConfig } from '../../apps/gateway/config/index.ts'

const svc = { name: 'users', prefix: '/api/users', upstreams: ['http://127.0.0.1:3001'], auth: 'none' }

test('${VAR}, ${VAR:-default}, unset = empty, $${ escapes', () => {
  const env = { HOST: 'example.org', EMPTY: '' }
  assert.deepEqual(expandString('${HOST}', env), { value: 'example.org', expanded: true })
  assert.deepEqual(expandString('http://${HOST}:${PORT:-80}/x', env), { value: 'http://example.org:80/x', expanded: true })
  assert.deepEqual(expandString('${MISSING}', env), { value: '', expanded: true })
  assert.deepEqual(expandString('${EMPTY:-fallback}', env), { value: 'fallback', expanded: true })
  assert.deepEqual(expandString('${HOST:-fallback}', env), { value: 'example.org', expanded: true })
  assert.deepEqual(expandString('pa$${HOST}ss', env), { value: 'pa${HOST}ss', expanded: false })
  assert.deepEqual(expandString('$HOST and $5', env), { value: '$HOST and $5', expanded: false })
  assert.ok('error' in expandString('${HOST', env))
  assert.ok('error' in expandString('${1BAD}', env))
})

test('expanded strings are coerced where the schema wants a number or a boolean', () => {
  const { config, problems } = resolveConfig({
    server: { port: '${PORT:-9090}', maxConnections: '${MAXCONN}', bodyLimit: '${BODY:-2mb}' },
    logging: { access: '${ACCESS_LOG:-false}' },
    services: [{ ...svc, rateLimit: '${USERS_LIMIT:-false}', retries: '${RETRIES}' }]
  }, { env: { MAXCONN: '500', RETRIES: '3' } })
  assert.deepEqual(problems, [])
  assert.equal(config?.server.port, 9090)
  assert.equal(config?.server.maxConnections, 500)
  assert.equal(config?.server.bodyLimit, 2 * 1024 * 1024)
  assert.equal(config?.logging.access, false)
  assert.equal(config?.services[0].rateLimit, false)
  assert.equal(config?.services[0].retries, 3)
})

test('a quoted number written by hand is not coerced; a non-numeric expansion is an error', () => {
  const { problems } = resolveConfig({ server: { port: '8080', host: '${HOST}' }, admin: { port: '${ADMIN_PORT}' } },
    { env: { ADMIN_PORT: 'eighty' } })
  assert.deepEqual(problems.map(formatProblem).sort(), [
    '<inline>: admin.port: must be a port number (0-65535)',
    '<inline>: server.host: must be a non-empty string',
    '<inline>: server.port: must be a port number (0-65535)'
  ])
})

test('expansion cannot inject structure: a value with YAML syntax stays one string', () => {
  const { config, problems } = resolveConfig({
    admin: { token: '${TOKEN}' },
    services: [{ ...svc, upstreams: ['${UPSTREAM}'] }]
  }, { env: { TOKEN: 'abc\nport: 1', UPSTREAM: 'http://127.0.0.1:3001' } })
  assert.deepEqual(problems, [])
  assert.equal(config?.admin.token, 'abc\nport: 1')
  assert.equal(config?.admin.port, 8081)
})

test('unset admin token = admin API off (null); unset JWT secret is a clear error', () => {
  const off = resolveConfig({ admin: { token: '${GATEHOUSE_ADMIN_TOKEN}' } }, { env: {} })
  assert.equal(off.config?.admin.token, null)
  const { problems } = resolveConfig({ auth: { jwt: { secret: '${JWT_SECRET}' } } }, { env: {} })
  assert.deepEqual(problems.map(formatProblem), ['<inline>: auth.jwt.secret: is empty (is its environment variable set?)'])
})

test('a malformed reference is a problem at its key path', () => {
  const { problems } = resolveConfig({ services: [{ ...svc, upstreams: ['http://${HOST'] }] }, { env: {} })
  assert.equal(problems.length, 1)
  assert.equal(problems[0].path, 'services[0].upstreams[0]')
  assert.match(problems[0].message, /unterminated/)
})
