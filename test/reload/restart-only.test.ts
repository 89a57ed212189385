import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { createUpstream } from '../helpers/upstream.ts'
import { gatewayFromFiles, serviceYaml } from './config-files.ts'
import { selfSigned } from '../tls/certs.ts'

// SPEC "Operations": listen addresses and ports, server.trustProxy, maxConnections,
// timeouts, http2, httpRedirect, TLS on/off, auth and rateLimit need a restart. A reload
// that changes them logs the keys at warn (never their values), keeps the running values
// and applies the rest.

const MAIN = 'logging: { level: info, access: false }\n'

test('a reload changing every restart-only key logs each key at warn, no value, keeps the running values and applies the rest', async (t) => {
  const up = await createUpstream(t)
  const gw = await gatewayFromFiles(t, `${MAIN}admin: { token: first }\n`, { 'users.yaml': serviceYaml('users', '/api/users', up.origin) },
    { listen: true })
  const cert = selfSigned(gw.dir, 'tls')
  const running = structuredClone({ ...gw.gateway.ctx.config, services: [] })

  await writeFile(gw.configFile, `servicesDir: ./services.d
logging: { level: info, access: false }
admin: { token: second, host: 127.0.0.2, port: 18181 }
server:
  host: 127.0.0.3
  port: 18180
  trustProxy: [203.0.113.0/24]
  maxConnections: 7
  timeouts: { headers: 3s }
  tls: { cert: ./tls.pem, key: ./tls.key }
  http2: true
  httpRedirect: { port: 18179 }
  bodyLimit: 16
auth: { jwt: { secret: restart-only-secret-value } }
rateLimit: { default: { max: 3, window: 1m } }
`)
  const event = await gw.reloader.reload('sighup')
  assert.equal(event.result, 'success')

  const warnings = gw.logs.filter((l) => l.level === 40)
  assert.deepEqual(warnings.map((l) => l.keys), [
    ['server.host', 'server.port', 'admin.host', 'admin.port'],
    ['server.trustProxy', 'server.maxConnections', 'server.timeouts', 'server.tls', 'server.http2', 'server.httpRedirect', 'auth', 'rateLimit'],
  ])
  const logged = JSON.stringify(gw.logs)
  for (const value of ['127.0.0.2', '127.0.0.3', '18181', '18180', '18179', '203.0.113.0', 'restart-only-secret-value', cert.cert]) {
    assert.ok(!logged.includes(value), `${value} is not logged`)
  }

  const now = gw.gateway.ctx.config
  for (const key of ['host', 'port', 'trustProxy', 'maxConnections', 'timeouts', 'tls', 'http2', 'httpRedirect'] as const) {
    assert.deepEqual(now.server[key], running.server[key], `server.${key} keeps its running value`)
  }
  assert.deepEqual([now.admin.host, now.admin.port], [running.admin.host, running.admin.port])
  assert.deepEqual(now.auth, running.auth)
  assert.deepEqual(now.rateLimit, running.rateLimit)

  // What is live did apply: the admin token and the body limit; the listener still
  // answers plain HTTP on its address, without a rate limit or auth.
  assert.equal(now.admin.token, 'second')
  assert.equal(now.server.bodyLimit, 16)
  const res = await fetch(`${gw.url}/api/users/1`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('ratelimit-policy'), null)
  assert.equal((await fetch(`${gw.url}/api/users/1`, { method: 'POST', body: 'x'.repeat(32) })).status, 413)
})
