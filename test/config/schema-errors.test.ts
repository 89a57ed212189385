import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatProblem, loadConfig, resolveConfig, type GatewayConfig } from '../../apps/gateway/config/index.ts'
import { DEFAULT_TLS_PROTOCOL } from '../../apps/gateway/tls/protocol-policy.ts'

const svc = (extra: Record<string, unknown> = {}) =>
  ({ name: 'users', prefix: '/api/users', upstreams: ['http://127.0.0.1:3001'], auth: 'none', ...extra })

function lines (raw: unknown, env: Record<string, string> = {}): string[] {
  return resolveConfig(raw, { file: '/etc/gatehouse/gateway.yaml', env }).problems.map(formatProblem)
}

function ok (raw: unknown, opts: { baseDir?: string, env?: Record<string, string> } = {}): GatewayConfig {
  const { config, problems } = resolveConfig(raw, { env: {}, ...opts })
  assert.deepEqual(problems.map(formatProblem), [])
  assert.ok(config)
  return config
}

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-config-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

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

test('trustProxy: true or a hop count is rejected with the SPEC explanation; CIDRs are checked', () => {
  const hint = 'trustProxy takes a list of CIDRs of your own proxies (never true or a hop count)'
  assert.deepEqual(lines({ server: { trustProxy: true } }), [`gateway.yaml: server.trustProxy: ${hint}`])
  assert.deepEqual(lines({ server: { trustProxy: 1 } }), [`gateway.yaml: server.trustProxy: ${hint}`])
  assert.deepEqual(lines({ server: { trustProxy: ['10.0.0.0/8', 'loopback', '10.0.0.0/33', '0.0.0.0/0'] } }), [
    `gateway.yaml: server.trustProxy[1]: must be an IP address or CIDR; ${hint}`,
    `gateway.yaml: server.trustProxy[2]: must be an IP address or CIDR; ${hint}`,
    `gateway.yaml: server.trustProxy[3]: 0.0.0.0/0 trusts every client; ${hint}`
  ])
  assert.deepEqual(ok({ server: { trustProxy: ['10.1.2.3', '2001:db8::/32'] } }).server.trustProxy, ['10.1.2.3/32', '2001:db8::/32'])
  assert.equal(ok({ server: { trustProxy: false } }).server.trustProxy, false)
})

test('JWT: alg none, HS with a public key, RS with a secret and key-source count are rejected', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  assert.deepEqual(lines({ auth: { jwt: { secret: 'x', algorithms: ['HS256', 'none'] } } }),
    ['gateway.yaml: auth.jwt.algorithms[1]: "none" is never accepted (unsigned tokens)'])
  assert.deepEqual(lines({ auth: { jwt: { publicKey, algorithms: ['HS256'] } } }),
    ['gateway.yaml: auth.jwt.algorithms[0]: HS256 needs secret: a public key is never used as an HMAC secret'])
  assert.deepEqual(lines({ auth: { jwt: { jwksUrl: 'http://identity:3003/.well-known/jwks.json', algorithms: ['RS256', 'HS512'] } } }),
    ['gateway.yaml: auth.jwt.algorithms[1]: HS512 needs secret: a public key is never used as an HMAC secret'])
  assert.deepEqual(lines({ auth: { jwt: { secret: 'x', algorithms: ['RS256'] } } }),
    ['gateway.yaml: auth.jwt.algorithms[0]: RS256 needs publicKey or jwksUrl (secret is for HS256, HS384, HS512)'])
  // A secret may sit beside one asymmetric source; two asymmetric sources may not.
  assert.deepEqual(lines({ auth: { jwt: { secret: 'x', jwksUrl: 'http://idp/jwks', algorithms: ['HS256', 'RS256'] } } }), [])
  assert.deepEqual(lines({ auth: { jwt: { publicKey, jwksUrl: 'http://idp/jwks' } } }),
    ['gateway.yaml: auth.jwt: takes publicKey or jwksUrl, not both (a secret may be added for HS* tokens)'])
  assert.deepEqual(lines({ auth: { jwt: { issuer: 'me' } } }),
    ['gateway.yaml: auth.jwt: needs a key source: secret, publicKey or jwksUrl'])
  assert.deepEqual(lines({ auth: { jwt: { jwksUrl: 'file:///etc/jwks.json' } } }),
    ['gateway.yaml: auth.jwt.jwksUrl: must be an http(s) URL'])
})

test('JWT publicKey: a file relative to the config file is read; its key type sets and limits algorithms', async (t) => {
  const dir = await tempDir(t)
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  await writeFile(join(dir, 'jwt.pub'), ec.publicKey)
  await writeFile(join(dir, 'jwt.key'), ec.privateKey)
  const config = ok({ auth: { jwt: { publicKey: './jwt.pub' } } }, { baseDir: dir })
  assert.equal(config.auth.jwt?.publicKey, ec.publicKey)
  assert.deepEqual(config.auth.jwt?.algorithms, ['ES256'])
  assert.equal(config.auth.jwt?.secret, undefined)

  const problems = (raw: unknown) => resolveConfig(raw, { baseDir: dir, env: {} }).problems.map(p => `${p.path}: ${p.message}`)
  assert.deepEqual(problems({ auth: { jwt: { publicKey: './jwt.pub', algorithms: ['RS256'] } } }),
    ['auth.jwt.algorithms[0]: RS256 does not match the type of publicKey'])
  assert.deepEqual(problems({ auth: { jwt: { publicKey: './jwt.key' } } }),
    ['auth.jwt.publicKey: is a private key: give the public key (never deploy the signing key to the gateway)'])
  assert.deepEqual(problems({ auth: { jwt: { publicKey: './missing.pub' } } }),
    [`auth.jwt.publicKey: cannot read ${join(dir, 'missing.pub')}: ENOENT`])
  assert.deepEqual(problems({ auth: { jwt: { publicKey: '-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n' } } }),
    ['auth.jwt.publicKey: is not a PEM public key'])
  assert.deepEqual(ok({ auth: { jwt: { jwksUrl: 'https://idp.example.com/jwks.json' } } }).auth.jwt?.algorithms, ['RS256'])
})

test('prefixes: leading slash, no trailing slash, no .., %, ?, #; names and prefixes unique in the file', () => {
  assert.deepEqual(lines({
    services: [
      svc({ name: 'a', prefix: 'api/a' }),
      svc({ name: 'b', prefix: '/api/../b' }),
      svc({ name: 'c', prefix: '/api/%2e' }),
      svc({ name: 'd', prefix: '/api/d?x' }),
      svc({ name: 'e', prefix: '/api/e#x' }),
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
    'gateway.yaml: services[5].prefix: must name a path such as /api/users, not / alone',
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

test('a service or route that needs a token while auth.jwt is not configured is an error', () => {
  assert.deepEqual(lines({
    services: [
      { name: 'users', prefix: '/api/users', upstreams: ['http://127.0.0.1:3001'] },
      svc({ name: 'orders', prefix: '/api/orders', routes: [{ path: '/api/orders/*', methods: ['POST'], auth: 'optional' }] })
    ]
  }), [
    'gateway.yaml: services[0].auth: "required" needs auth.jwt, which is not configured (auth defaults to "required"; set auth: none for a public service)',
    'gateway.yaml: services[1].routes[0].auth: "optional" needs auth.jwt, which is not configured'
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

test('edge options resolve: TLS paths, compression, CORS, cache, ipAccess, upstreamTls', async (t) => {
  const dir = await tempDir(t)
  const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
  await writeFile(join(dir, 'ca.pem'), ca)
  const config = ok({
    server: { tls: { cert: './tls/cert.pem', key: './tls/key.pem' }, http2: true, httpRedirect: { port: 8079 } },
    ipAccess: { allow: [], deny: ['192.0.2.1'] },
    compression: { threshold: '2kb' },
    services: [svc({
      upstreams: ['https://users.internal'],
      upstreamTls: { ca: './ca.pem' },
      ipAccess: { allow: ['10.0.0.0/8'] },
      cors: { origins: ['https://app.example.com/'], methods: ['get', 'POST'], headers: ['Authorization', 'content-type'], maxAge: '10m' },
      cache: { ttl: '30s', vary: ['Accept-Language'] },
      websocket: true
    })]
  }, { baseDir: dir })
  assert.deepEqual(config.server.tls, { cert: join(dir, 'tls/cert.pem'), key: join(dir, 'tls/key.pem'), ...DEFAULT_TLS_PROTOCOL })
  assert.equal(config.server.http2, true)
  assert.deepEqual(config.server.httpRedirect, { port: 8079 })
  assert.deepEqual(config.ipAccess, { allow: [], deny: ['192.0.2.1/32'] })
  assert.deepEqual(config.compression, { threshold: 2048, encodings: ['br', 'gzip'] })
  const s = config.services[0]
  assert.deepEqual(s.upstreamTls, { ca, rejectUnauthorized: true })
  assert.deepEqual(s.ipAccess, { allow: ['10.0.0.0/8'], deny: [] })
  assert.deepEqual(s.cors, { origins: ['https://app.example.com'], methods: ['GET', 'POST'], headers: ['authorization', 'content-type'], credentials: false, maxAgeMs: 600000 })
  assert.deepEqual(s.cache, { ttlMs: 30000, maxEntries: 10000, store: 'memory', vary: ['accept-language'], perConsumer: false })
  assert.equal(s.websocket, true)
  assert.deepEqual(ok({ compression: true }).compression, { threshold: 1024, encodings: ['br', 'gzip'] })

  assert.deepEqual(lines({
    server: { http2: true },
    ipAccess: { allow: ['10.0.0.300'] },
    services: [svc({ cors: { origins: ['*'], credentials: true }, upstreamTls: { ca: '/nonexistent/ca.pem' } })]
  }), [
    'gateway.yaml: server.http2: needs server.tls (HTTP/2 is offered through TLS ALPN)',
    'gateway.yaml: services[0].cors.origins: cannot contain * when credentials is true',
    'gateway.yaml: services[0].upstreamTls.ca: cannot read /nonexistent/ca.pem: ENOENT',
    'gateway.yaml: ipAccess.allow[0]: must be an IP address or CIDR (10.0.0.0/8, 2001:db8::/32)'
  ])
})

test('the admin port must differ from the public port; an empty config file is all defaults', async (t) => {
  assert.deepEqual(lines({ server: { port: 9000 }, admin: { port: 9000 } }), ['gateway.yaml: admin.port: must differ from server.port'])
  const dir = await tempDir(t)
  await writeFile(join(dir, 'empty.yaml'), '# nothing yet\n')
  const { config, problems } = await loadConfig(join(dir, 'empty.yaml'), {})
  assert.deepEqual(problems, [])
  assert.equal(config?.services.length, 0)
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
