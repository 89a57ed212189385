import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { resolveConfig } from '../../apps/gateway/config/index.ts'
import { svc, lines, ok, tempDir } from './helpers.ts'

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
