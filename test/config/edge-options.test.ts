import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULT_TLS_PROTOCOL } from '../../apps/gateway/tls/protocol-policy.ts'
import { svc, lines, ok, tempDir } from './helpers.ts'

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
