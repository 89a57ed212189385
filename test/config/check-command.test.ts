import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCheck } from '../../apps/gateway/commands/check.ts'

function captureIo (env: NodeJS.ProcessEnv = {}) {
  const out: string[] = []
  const err: string[] = []
  return {
    io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, env },
    stdout: () => out.join(''),
    stderr: () => err.join('')
  }
}

async function configDir (t: TestContext, main: string, services: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-check-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'gateway.yaml'), main)
  await mkdir(join(dir, 'services.d'))
  for (const [name, text] of Object.entries(services)) await writeFile(join(dir, 'services.d', name), text)
  return dir
}

const MAIN = `auth:
  jwt: { secret: "\${JWT_SECRET}" }
servicesDir: ./services.d
services:
  - name: users
    prefix: /api/users
    upstreams: [http://127.0.0.1:3001]
`

test('check: a valid config prints "ok: <N> services" (main file + servicesDir) and exits 0', async (t) => {
  const dir = await configDir(t, MAIN, { 'orders.yaml': 'name: orders\nprefix: /api/orders\nupstreams: [http://127.0.0.1:3002]\n' })
  const c = captureIo({ JWT_SECRET: 'dev-secret' })
  assert.equal(await runCheck({ config: join(dir, 'gateway.yaml') }, c.io), 0)
  assert.equal(c.stdout(), 'ok: 2 services\n')
  assert.equal(c.stderr(), '')
})

test('check: reads GATEHOUSE_CONFIG when --config is not given', async (t) => {
  const dir = await configDir(t, MAIN)
  const c = captureIo({ JWT_SECRET: 'dev-secret', GATEHOUSE_CONFIG: join(dir, 'gateway.yaml') })
  assert.equal(await runCheck({}, c.io), 0)
  assert.equal(c.stdout(), 'ok: 1 services\n')
})

test('check: exit 1 with one "<file>: <key path>: <message>" line per problem on stderr', async (t) => {
  const dir = await configDir(t, MAIN.replace('http://127.0.0.1:3001', 'localhost:3001'), {
    'orders.yaml': 'name: orders\nprefix: /api/users\nupstreams: [http://127.0.0.1:3002]\nrateLimt: { max: 1, window: 1s }\n'
  })
  const c = captureIo({})
  assert.equal(await runCheck({ config: join(dir, 'gateway.yaml') }, c.io), 1)
  assert.equal(c.stdout(), '')
  assert.deepEqual(c.stderr().split('\n'), [
    'gateway.yaml: services[0].upstreams[0]: must be an http(s) URL',
    'gateway.yaml: auth.jwt.secret: is empty (is its environment variable set?)',
    'services.d/orders.yaml: rateLimt: unknown key (did you mean "rateLimit"?)',
    ''
  ])
})

test('check: auth.jwt takes a secret beside publicKey or jwksUrl, never publicKey and jwksUrl together', async (t) => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  const services = 'services:\n  - { name: users, prefix: /api/users, upstreams: [http://127.0.0.1:3001] }\n'
  const mixed = await configDir(t, 'auth:\n  jwt:\n    secret: dev-secret\n    publicKey: ./jwt.pub\n    forwardAuthorization: false\n' + services)
  await writeFile(join(mixed, 'jwt.pub'), publicKey)
  const ok = captureIo()
  assert.equal(await runCheck({ config: join(mixed, 'gateway.yaml') }, ok.io), 0, ok.stderr())
  assert.equal(ok.stdout(), 'ok: 1 services\n')

  const both = await configDir(t, 'auth:\n  jwt:\n    secret: dev-secret\n    publicKey: ./jwt.pub\n    jwksUrl: http://127.0.0.1:3003/jwks\n' + services)
  await writeFile(join(both, 'jwt.pub'), publicKey)
  const refused = captureIo()
  assert.equal(await runCheck({ config: join(both, 'gateway.yaml') }, refused.io), 1)
  assert.deepEqual(refused.stderr().split('\n'), ['gateway.yaml: auth.jwt: takes publicKey or jwksUrl, not both (a secret may be added for HS* tokens)', ''])
})

test('check: a catch-all service with prefix / is accepted (its routes / and /*), once per set; other services keep their own routes', async (t) => {
  const web = 'name: web\nprefix: /\nupstreams: [http://127.0.0.1:3000]\nrewritePrefix: /app\n' +
    'routes:\n  - { path: /, auth: none }\n  - { path: /*, methods: [POST], scopes: [web:write] }\n  - { path: /assets/*, auth: none }\n'
  const dir = await configDir(t, MAIN, { 'web.yaml': web })
  const c = captureIo({ JWT_SECRET: 'dev-secret' })
  assert.equal(await runCheck({ config: join(dir, 'gateway.yaml') }, c.io), 0, c.stderr())
  assert.equal(c.stdout(), 'ok: 2 services\n')

  const twice = await configDir(t, MAIN + '  - { name: front, prefix: /, upstreams: [http://127.0.0.1:3004] }\n' +
    '  - { name: users-admin, prefix: /api/admin, upstreams: [http://127.0.0.1:3005], routes: [{ path: /, auth: none }, { path: /*, auth: none }] }\n',
  { 'web.yaml': web })
  const refused = captureIo({ JWT_SECRET: 'dev-secret' })
  assert.equal(await runCheck({ config: join(twice, 'gateway.yaml') }, refused.io), 1)
  assert.deepEqual(refused.stderr().split('\n'), [
    'gateway.yaml: services[2].routes[0].path: must start with the service prefix /api/admin',
    'gateway.yaml: services[2].routes[1].path: must start with the service prefix /api/admin',
    'services.d/web.yaml: prefix: duplicate prefix "/" (also service "front", gateway.yaml: services[1].prefix)',
    '',
  ])
})

test('check: a missing config file is exit 1 with a clear line; no config at all is a usage error', async (t) => {
  const dir = await configDir(t, MAIN)
  const c = captureIo({})
  assert.equal(await runCheck({ config: join(dir, 'missing.yaml') }, c.io), 1)
  assert.equal(c.stderr(), `missing.yaml: cannot read ${join(dir, 'missing.yaml')}: no such file or directory\n`)
  const u = captureIo({})
  assert.equal(await runCheck({}, u.io), 2)
  assert.match(u.stderr(), /--config FILE or set GATEHOUSE_CONFIG/)
})
