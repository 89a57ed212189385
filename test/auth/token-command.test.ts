import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createVerifier } from 'fast-jwt'
import { runToken, type TokenIo } from '../../apps/gateway/commands/token.ts'
import { loadConfig } from '../../apps/gateway/config/index.ts'
import { buildGateway } from '../../apps/gateway/app.ts'
import { createLogger } from '../../apps/gateway/logger.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { CLI, spawnNode } from '../helpers/process.ts'
import { rsaKeyPair } from './fixtures.ts'

const SECRET = 'token-command-secret-0123456789abcdef'

async function writeConfig (t: TestContext, jwt: string, upstream = 'http://127.0.0.1:9') {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gatehouse-token-'))
  t.after(() => fs.rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'gateway.yaml')
  await fs.writeFile(file, `
logging: { level: warn, access: false }
auth:
  jwt:
${jwt.trim().split('\n').map((l) => '    ' + l).join('\n')}
services:
  - name: users
    prefix: /api/users
    upstreams: [${upstream}]
    scopes: [users:read]
`)
  return file
}

function captureIo (now = Date.now()): TokenIo & { out: () => string, err: () => string } {
  let out = ''
  let err = ''
  return {
    stdout: { write: (s: string) => { out += s } },
    stderr: { write: (s: string) => { err += s } },
    env: {},
    now: () => now,
    out: () => out,
    err: () => err,
  }
}

const HS_CONFIG = `
secret: ${SECRET}
issuer: gatehouse-demo
audience: gatehouse
algorithms: [HS256]
`

test('gatehouse token prints only a token that verifies with the configured secret, iss and aud', async (t) => {
  const file = await writeConfig(t, HS_CONFIG)
  const now = Date.now()
  const io = captureIo(now)
  const code = await runToken({ config: file, sub: 'alice', scope: 'users:read  orders:write', ttl: '15m' }, io)
  assert.equal(code, 0, io.err())
  assert.match(io.out(), /^[\w-]+\.[\w-]+\.[\w-]+\n$/)
  const verify = createVerifier({ key: SECRET, algorithms: ['HS256'], allowedIss: 'gatehouse-demo', allowedAud: 'gatehouse' })
  const payload = verify(io.out().trim())
  assert.equal(payload.sub, 'alice')
  assert.equal(payload.scope, 'users:read orders:write')
  assert.equal(payload.iat, Math.floor(now / 1000))
  assert.equal(payload.exp - payload.iat, 15 * 60)
  assert.equal(io.err(), '')
  // Default ttl: 1h.
  const io2 = captureIo(now)
  assert.equal(await runToken({ config: file, sub: 'bob' }, io2), 0)
  const p2 = verify(io2.out().trim())
  assert.equal(p2.exp - p2.iat, 3600)
  assert.equal(p2.scope, '')
})

test('the minted token is accepted by a gateway running the same config', async (t) => {
  const up = await createUpstream(t)
  const file = await writeConfig(t, HS_CONFIG, up.origin)
  const io = captureIo()
  assert.equal(await runToken({ config: file, sub: 'alice', scope: 'users:read' }, io), 0)
  const { config } = await loadConfig(file, {})
  const gateway = await buildGateway(config!, { logger: createLogger('silent') })
  t.after(() => gateway.close())
  const ok = await gateway.inject({ url: '/api/users/1', headers: { authorization: `Bearer ${io.out().trim()}` } })
  assert.equal(ok.statusCode, 200)
  assert.equal(up.requests[0]!.headers['x-consumer-id'], 'alice')
})

test('gatehouse token exits 1 when only a public key is configured (no secret to sign with)', async (t) => {
  const file = await writeConfig(t, `publicKey: |\n${rsaKeyPair().publicPem.trim().split('\n').map((l) => '  ' + l).join('\n')}\nalgorithms: [RS256]`)
  const io = captureIo()
  assert.equal(await runToken({ config: file, sub: 'alice' }, io), 1)
  assert.equal(io.out(), '')
  assert.match(io.err(), /publicKey.*secret/)
})

test('gatehouse token exits 1 on an invalid config, naming the problem', async (t) => {
  const file = await writeConfig(t, `${HS_CONFIG}\nsecrte: typo`)
  const io = captureIo()
  assert.equal(await runToken({ config: file, sub: 'alice' }, io), 1)
  assert.equal(io.out(), '')
  assert.match(io.err(), /gateway\.yaml: auth\.jwt.*secrte/)
})

test('gatehouse token: bad --ttl and no config are usage errors (exit 2)', async (t) => {
  const file = await writeConfig(t, HS_CONFIG)
  const io = captureIo()
  assert.equal(await runToken({ config: file, sub: 'alice', ttl: 'soon' }, io), 2)
  assert.equal(await runToken({ config: null, sub: 'alice' }, io), 2)
  assert.equal(io.out(), '')
})

test('the CLI prints the token alone on stdout, and exits 1 without a secret', async (t) => {
  const file = await writeConfig(t, HS_CONFIG)
  const ok = spawnNode(t, [CLI, 'token', '--sub', 'alice', '--scope', 'users:read', '--config', file])
  assert.equal(await ok.exited, 0, ok.stderr())
  assert.match(ok.stdout(), /^[\w-]+\.[\w-]+\.[\w-]+\n$/)
  const payload = createVerifier({ key: SECRET, algorithms: ['HS256'] })(ok.stdout().trim())
  assert.equal(payload.scope, 'users:read')

  const jwks = await writeConfig(t, 'jwksUrl: http://127.0.0.1:9/jwks.json\nalgorithms: [RS256]')
  const refused = spawnNode(t, [CLI, 'token', '--sub', 'alice', '--config', jwks])
  assert.equal(await refused.exited, 1)
  assert.equal(refused.stdout(), '')
  assert.match(refused.stderr(), /jwksUrl/)
})
