import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import tls from 'node:tls'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { formatProblem, loadConfig, resolveConfig } from '../../apps/gateway/config/index.ts'
import { buildGateway } from '../../apps/gateway/app.ts'
import { listenGateway } from '../../apps/gateway/server.ts'
import { createLogger } from '../../apps/gateway/logger.ts'
import { certDir, replaceFile, selfSigned, type CertFiles } from './certs.ts'

// The public TLS port's protocol policy: Mozilla "intermediate" by default (TLS 1.2+,
// forward-secret AEAD suites only), `server.tls.minVersion` / `ciphers` to differ.

type Handshake = { ok: true, version: string, cipher: string } | { ok: false, error: string }

function handshake (port: number, ca: string, opts: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...opts })
    socket.once('secureConnect', () => {
      resolve({ ok: true, version: socket.getProtocol() ?? '', cipher: socket.getCipher().name })
      socket.destroy()
    })
    socket.once('error', (err: Error & { code?: string }) => resolve({ ok: false, error: err.code ?? err.message }))
  })
}

// A TLS server that takes anything OpenSSL can still do: a client offer it accepts can
// handshake at all, so a refusal by the gateway is the gateway's doing.
async function permissiveServer (t: TestContext, cert: CertFiles): Promise<number> {
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1', ciphers: 'ALL@SECLEVEL=0', dhparam: 'auto' }, (s) => s.end())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

async function tlsGateway (t: TestContext, cert: CertFiles, tlsExtra: Record<string, unknown> = {}) {
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'u', prefix: '/u', upstreams: [up.origin] }],
    { server: { tls: { cert: cert.cert, key: cert.key, ...tlsExtra } } }), { listen: true })
  return { gw, port: Number(new URL(gw.url!).port) }
}

const TLS12 = { maxVersion: 'TLSv1.2' } as const
// Old clients: CBC suites with and without forward secrecy, and TLS 1.1.
const REFUSED: Array<[string, tls.ConnectionOptions]> = [
  ['AES128-SHA', { ...TLS12, ciphers: 'AES128-SHA' }],
  ['AES256-SHA256', { ...TLS12, ciphers: 'AES256-SHA256' }],
  ['ECDHE-RSA-AES128-SHA', { ...TLS12, ciphers: 'ECDHE-RSA-AES128-SHA' }],
  ['ECDHE-RSA-AES256-SHA384', { ...TLS12, ciphers: 'ECDHE-RSA-AES256-SHA384' }],
  ['DHE-RSA-AES128-GCM-SHA256 (no DH params configured)', { ...TLS12, ciphers: 'DHE-RSA-AES128-GCM-SHA256' }],
  ['TLSv1.1', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'ALL@SECLEVEL=0' }],
]

test('by default the TLS port offers Mozilla intermediate: CBC, static-RSA and TLS 1.1 clients fail the handshake, ECDHE AEAD and TLS 1.3 succeed', async (t) => {
  const cert = selfSigned(certDir(t), 'rsa', 'localhost', { rsa: true })
  const { port } = await tlsGateway(t, cert)
  const control = await permissiveServer(t, cert)

  for (const [name, offer] of REFUSED) {
    assert.equal((await handshake(control, cert.certPem, offer)).ok, true, `${name}: the client can handshake at all`)
    const res = await handshake(port, cert.certPem, offer)
    assert.equal(res.ok, false, `${name} is refused, got ${JSON.stringify(res)}`)
  }
  for (const cipher of ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305']) {
    assert.deepEqual(await handshake(port, cert.certPem, { ...TLS12, ciphers: cipher }), { ok: true, version: 'TLSv1.2', cipher })
  }
  const modern = await handshake(port, cert.certPem, {})
  assert.equal(modern.ok && modern.version, 'TLSv1.3')
})

test('an ECDSA certificate gets the ECDHE-ECDSA AEAD suites, never its CBC ones', async (t) => {
  const cert = selfSigned(certDir(t), 'ec')
  const { port } = await tlsGateway(t, cert)
  assert.equal((await handshake(port, cert.certPem, { ...TLS12, ciphers: 'ECDHE-ECDSA-AES128-SHA' })).ok, false)
  for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
    assert.deepEqual(await handshake(port, cert.certPem, { ...TLS12, ciphers: cipher }), { ok: true, version: 'TLSv1.2', cipher })
  }
})

test('server.tls.ciphers and minVersion change what the port accepts', async (t) => {
  const cert = selfSigned(certDir(t), 'rsa', 'localhost', { rsa: true })
  const legacy = await tlsGateway(t, cert, { ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA' })
  const cbc = await handshake(legacy.port, cert.certPem, { ...TLS12, ciphers: 'ECDHE-RSA-AES128-SHA' })
  assert.deepEqual(cbc, { ok: true, version: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-SHA' }, 'a suite the operator asked for')
  assert.equal((await handshake(legacy.port, cert.certPem, { ...TLS12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })).ok, false, 'one left out')
  const modern = await handshake(legacy.port, cert.certPem, {})
  assert.equal(modern.ok && modern.version, 'TLSv1.3', 'a cipher string without TLS 1.3 suites keeps OpenSSL\'s TLS 1.3 ones')

  const only13 = await tlsGateway(t, cert, { minVersion: 'TLSv1.3' })
  assert.equal((await handshake(only13.port, cert.certPem, { ...TLS12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })).ok, false)
  const res = await handshake(only13.port, cert.certPem, {})
  assert.equal(res.ok && res.version, 'TLSv1.3')
})

test('a certificate reload keeps the cipher policy; a reload with new server.tls settings applies them to new handshakes', async (t) => {
  const dir = certDir(t)
  const a = selfSigned(dir, 'a', 'localhost', { rsa: true })
  const b = selfSigned(dir, 'b', 'localhost', { rsa: true })
  const live = selfSigned(dir, 'live', 'localhost', { rsa: true })
  replaceFile(live.cert, a.certPem)
  replaceFile(live.key, a.keyPem)
  const { gw, port } = await tlsGateway(t, live)
  const certificates = gw.listening!.certificates!
  const cbc = { ...TLS12, ciphers: 'ECDHE-RSA-AES128-SHA' }

  replaceFile(live.cert, b.certPem)
  replaceFile(live.key, b.keyPem)
  const swapped = await certificates.reload()
  assert.ok(swapped.ok && swapped.changed)
  assert.equal((await handshake(port, b.certPem, cbc)).ok, false, 'the new certificate came with the same policy')
  assert.equal((await handshake(port, b.certPem, { ...TLS12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })).ok, true)

  const changed = await certificates.reload({ ...gw.config.server.tls!, ciphers: 'ECDHE-RSA-AES128-SHA', minVersion: 'TLSv1.2' })
  assert.ok(changed.ok)
  assert.equal((await handshake(port, b.certPem, cbc)).ok, true, 'new ciphers, same certificate')
})

test('a SIGHUP that changes server.tls.ciphers applies them to new handshakes, with no restart', async (t) => {
  const dir = certDir(t)
  const cert = selfSigned(dir, 'rsa', 'localhost', { rsa: true })
  const up = await createUpstream(t)
  const configFile = join(dir, 'gateway.yaml')
  const yaml = (tlsExtra: string) => `server:\n  tls: { cert: ./rsa.pem, key: ./rsa.key${tlsExtra} }\nlogging: { level: info, access: false }\n` +
    `services:\n  - { name: u, prefix: /u, upstreams: ['${up.origin}'], auth: none }\n`
  writeFileSync(configFile, yaml(''))
  const { config, problems } = await loadConfig(configFile)
  assert.ok(config !== null, problems.map(formatProblem).join('\n'))
  const logs: string[] = []
  const gateway = await buildGateway(config, { logger: createLogger('info', new Writable({ write (c: Buffer, _e, done) { logs.push(c.toString()); done() } })) })
  const running = await listenGateway(gateway, { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0 })
  t.after(() => running.shutdown())
  const port = Number(new URL(running.publicUrl).port)
  const cbc = { ...TLS12, ciphers: 'ECDHE-RSA-AES128-SHA' }
  assert.equal((await handshake(port, cert.certPem, cbc)).ok, false)

  writeFileSync(configFile, yaml(', ciphers: "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA"'))
  const swapped = new Promise((resolve) => running.certificates!.once('reload', resolve))
  await gateway.reloader.reload('sighup')
  assert.deepEqual(await swapped, { trigger: 'sighup', ok: true, changed: false, fingerprint256: cert.fingerprint256 })
  assert.equal((await handshake(port, cert.certPem, cbc)).ok, true)
  assert.ok(!logs.join('').includes('needs a restart'), 'the protocol policy is not restart-only')
})

test('config: server.tls.minVersion takes TLSv1.2 or TLSv1.3, ciphers must name a suite OpenSSL knows', async () => {
  const problems = (tlsExtra: Record<string, unknown>) =>
    resolveConfig({ server: { tls: { cert: '/c.pem', key: '/k.pem', ...tlsExtra } } }, { file: null, env: {} }).problems
      .filter((p) => p.path.startsWith('server.tls.')).map((p) => p.path)
  assert.deepEqual(problems({ minVersion: 'TLSv1.1' }), ['server.tls.minVersion'])
  assert.deepEqual(problems({ ciphers: 'NOT-A-CIPHER' }), ['server.tls.ciphers'])
  assert.deepEqual(problems({ minVersion: 'TLSv1.3', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), [])
})
