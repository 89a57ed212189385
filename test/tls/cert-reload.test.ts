import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import https from 'node:https'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'
import { loadConfig, formatProblem } from '../../apps/gateway/config/index.ts'
import { buildGateway } from '../../apps/gateway/app.ts'
import { listenGateway } from '../../apps/gateway/server.ts'
import { reloadOnSighup } from '../../apps/gateway/reload/index.ts'
import { restartOnlyChanges, withLiveSettings } from '../../apps/gateway/reload/restart-only.ts'
import type { CertificateReloader, CertReloadEvent } from '../../apps/gateway/tls/cert-reloader.ts'
import { certDir, replaceFile, selfSigned, type CertFiles } from './certs.ts'
import { servedFingerprint, tlsServerConfig } from './helpers.ts'

function nextCertReload (certs: CertificateReloader, match: (e: CertReloadEvent) => boolean, timeoutMs = 5000): Promise<CertReloadEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      certs.off('reload', onReload)
      reject(new Error(`no matching certificate reload within ${timeoutMs} ms`))
    }, timeoutMs)
    function onReload (e: CertReloadEvent) {
      if (!match(e)) return
      clearTimeout(timer)
      certs.off('reload', onReload)
      resolve(e)
    }
    certs.on('reload', onReload)
  })
}

const swapped = (e: CertReloadEvent) => e.ok && e.changed
const rejected = (e: CertReloadEvent) => !e.ok

interface Live { dir: string, a: CertFiles, b: CertFiles, cert: string, key: string }

// Certificates A and B, and the files the gateway reads (A at first).
function liveCerts (t: TestContext): Live {
  const dir = certDir(t)
  const a = selfSigned(dir, 'a')
  const b = selfSigned(dir, 'b')
  const liveDir = join(dir, 'live')
  mkdirSync(liveDir)
  const cert = join(liveDir, 'tls.crt')
  const key = join(liveDir, 'tls.key')
  copyFileSync(a.cert, cert)
  copyFileSync(a.key, key)
  return { dir, a, b, cert, key }
}

function get (agent: https.Agent, url: string): Promise<{ status: number, socket: TLSSocket, reused: boolean, fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent, servername: 'localhost' }, (res) => {
      // Read while the socket is attached: it goes back to the agent's pool at the end.
      const socket = res.socket as TLSSocket
      const fingerprint = socket.getPeerCertificate().fingerprint256
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, socket, reused: req.reusedSocket, fingerprint }))
    })
    req.on('error', reject)
  })
}

test('certificate files replaced on disk: new handshakes get the new certificate, an open keep-alive connection is not dropped', async (t) => {
  const live = liveCerts(t)
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { server: tlsServerConfig({ ...live.a, cert: live.cert, key: live.key }, { http2: true }), logging: { level: 'info', access: false } }), { listen: true })
  const certs = gw.listening!.certificates!
  const ca = [live.a.certPem, live.b.certPem]
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca })
  t.after(() => agent.destroy())

  const first = await get(agent, `${gw.url}/api/users/1`)
  assert.equal(first.status, 200)
  assert.equal(first.fingerprint, live.a.fingerprint256)

  const reloaded = nextCertReload(certs, swapped)
  // As cert-manager or certbot do: new files renamed into place, key and certificate.
  replaceFile(live.key, live.b.keyPem)
  replaceFile(live.cert, live.b.certPem)
  const event = await reloaded
  assert.equal(event.ok && event.fingerprint256, live.b.fingerprint256)
  assert.equal(event.trigger, 'watch')

  const second = await get(agent, `${gw.url}/api/users/2`)
  assert.equal(second.status, 200)
  assert.ok(second.reused, 'the keep-alive connection opened before the swap served the next request')
  assert.equal(second.socket, first.socket)
  assert.equal(second.fingerprint, live.a.fingerprint256, 'an open connection keeps the certificate it was made with')
  assert.equal(await servedFingerprint(gw.url!, ca), live.b.fingerprint256, 'a new handshake gets the new certificate')
  assert.equal(await servedFingerprint(gw.url!, ca, ['h2']), live.b.fingerprint256, 'HTTP/2 handshakes too')
  const info = gw.logs.find((l) => l.msg === 'tls certificate reloaded')
  assert.equal(info?.fingerprint256, live.b.fingerprint256)
})

test('a bad new certificate is rejected with an error log and the running one keeps serving; fixing the files makes the next change succeed', async (t) => {
  const live = liveCerts(t)
  const up = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([{ name: 'users', prefix: '/api/users', upstreams: [up.origin] }],
    { server: tlsServerConfig({ ...live.a, cert: live.cert, key: live.key }) }), { listen: true })
  const certs = gw.listening!.certificates!
  const ca = [live.a.certPem, live.b.certPem]

  let failed = nextCertReload(certs, rejected)
  replaceFile(live.cert, 'not a certificate\n')
  let event = await failed
  assert.equal(event.ok, false)
  assert.equal(await servedFingerprint(gw.url!, ca), live.a.fingerprint256)

  // A certificate whose key is still the old one: refused, never half-applied.
  failed = nextCertReload(certs, rejected)
  replaceFile(live.cert, live.b.certPem)
  event = await failed
  assert.match(!event.ok ? event.error : '', /is not the key of the certificate/)
  assert.equal(await servedFingerprint(gw.url!, ca), live.a.fingerprint256)
  const errors = gw.logs.filter((l) => l.level === 50 && String(l.msg).startsWith('tls certificate reload rejected, the running certificate keeps serving'))
  assert.ok(errors.length >= 2, 'each rejected change is logged at error')
  assert.ok(!JSON.stringify(errors).includes('PRIVATE KEY'), 'no key material in the logs')

  const fixed = nextCertReload(certs, swapped)
  replaceFile(live.key, live.b.keyPem)
  await fixed
  assert.equal(await servedFingerprint(gw.url!, ca), live.b.fingerprint256)
})

test('SIGHUP re-reads the certificate, from the new paths when the main config file moved them', async (t) => {
  const dir = certDir(t)
  const a = selfSigned(dir, 'a')
  mkdirSync(join(dir, 'one'))
  mkdirSync(join(dir, 'two'))
  copyFileSync(a.cert, join(dir, 'one/cert.pem'))
  copyFileSync(a.key, join(dir, 'one/key.pem'))
  const b = selfSigned(join(dir, 'two'), 'b')
  const up = await createUpstream(t)
  const configFile = join(dir, 'gateway.yaml')
  const yaml = (tlsDir: string, certName: string, keyName: string) => `
server:
  tls: { cert: ./${tlsDir}/${certName}, key: ./${tlsDir}/${keyName} }
logging: { level: info, access: false }
services:
  - { name: users, prefix: /api/users, upstreams: ['${up.origin}'], auth: none }
`
  writeFileSync(configFile, yaml('one', 'cert.pem', 'key.pem'))
  const { config, problems } = await loadConfig(configFile)
  assert.ok(config !== null, problems.map(formatProblem).join('\n'))
  const logs: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk: Buffer, _e, done) { for (const l of chunk.toString().split('\n')) if (l) logs.push(JSON.parse(l)); done() } })
  const gateway = await buildGateway(config, { logger: pino({ level: 'info' }, sink) as unknown as FastifyBaseLogger })
  const stopSighup = reloadOnSighup(gateway.reloader, gateway.ctx.logger)
  t.after(stopSighup)
  const running = await listenGateway(gateway, { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0 })
  t.after(() => running.shutdown())
  const ca = [a.certPem, b.certPem]
  assert.equal(await servedFingerprint(running.publicUrl, ca), a.fingerprint256)

  // The files under ./one never change, so only the SIGHUP can bring ./two in.
  writeFileSync(configFile, yaml('two', 'b.pem', 'b.key'))
  const reloaded = nextCertReload(running.certificates!, (e) => e.trigger === 'sighup')
  process.kill(process.pid, 'SIGHUP')
  const event = await reloaded
  assert.ok(event.ok && event.changed)
  assert.equal(await servedFingerprint(running.publicUrl, ca), b.fingerprint256)
  assert.equal(logs.filter((l) => l.msg === 'tls certificate reloaded').length, 1)
  assert.ok(!logs.some((l) => String(l.msg).includes('needs a restart')), 'new certificate paths are not a restart-only change')
})

test('turning TLS on or off is restart-only; other server.tls changes are live', async (t) => {
  const up = await createUpstream(t)
  const dir = certDir(t)
  const a = selfSigned(dir, 'a')
  const withTls = (await createGateway(t, baseConfig([{ name: 'u', prefix: '/u', upstreams: [up.origin] }], { server: tlsServerConfig(a) }))).config
  const plain = (await createGateway(t, baseConfig([{ name: 'u', prefix: '/u', upstreams: [up.origin] }]))).config
  const moved = { ...withTls, server: { ...withTls.server, tls: { ...withTls.server.tls!, cert: '/elsewhere/c.pem', key: '/elsewhere/k.pem' } } }
  assert.deepEqual(restartOnlyChanges(withTls, plain).other, ['server.tls'])
  assert.deepEqual(restartOnlyChanges(plain, withTls).other, ['server.tls'])
  assert.deepEqual(restartOnlyChanges(withTls, moved).other, [])
  assert.deepEqual(withLiveSettings(withTls, moved).server.tls, moved.server.tls)
  assert.equal(withLiveSettings(plain, withTls).server.tls, null, 'TLS is not switched on without a restart')
})
