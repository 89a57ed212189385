import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { resolveConfig } from '../../apps/gateway/config/index.ts'
import { runCheck } from '../../apps/gateway/commands/check.ts'
import { gatewayFromFiles, tempDir } from '../reload/config-files.ts'
import { connectVia, createEchoServer, createEgressGateway, proxyBearer, readToEnd, roundTrip } from '../helpers/egress.ts'
import { JWT_SECRET } from '../helpers/tokens.ts'

const AUTH = { 'Proxy-Authorization': proxyBearer('svc-a') }

function problemsOf (raw: Record<string, unknown>): string[] {
  return resolveConfig(raw, { file: null, env: {} }).problems.map((p) => `${p.path}: ${p.message}`)
}

test('check validates the egress section and names each bad key by its path', async (t) => {
  const problems = problemsOf({
    server: { port: 8080 },
    egress: {
      port: 8080,
      alow: [],
      allow: [{ host: 'a.*.b' }, { host: 'ok.example', ports: [70000] }, { host: '*.ok.example', scopes: ['has space'] }],
      allowNetworks: ['10.20.0.0/16', 'not-a-cidr'],
      removeHeaders: ['bad header'],
      privateNetworks: 'sometimes',
      rateLimit: { max: 0, window: '1m' },
      timeouts: { idle: 'soon' },
    },
  })
  const paths = problems.map((p) => p.split(':')[0])
  // The schema's problems (a section of the wrong shape is not resolved further).
  assert.deepEqual(paths, ['egress.alow', 'egress.allow[1].ports[0]', 'egress.privateNetworks', 'egress.rateLimit.max', 'egress.timeouts.idle'])
  assert.match(problems.find((p) => p.startsWith('egress.alow'))!, /did you mean "allow"/)

  // The resolver's, and rules across sections: a token needs auth.jwt; the listener is a
  // port of its own.
  const cross = problemsOf({
    server: { port: 8080 },
    egress: { port: 8080, allow: [{ host: 'a.*.b' }, { host: '*.ok.example', scopes: ['has space'] }], allowNetworks: ['10.20.0.0/16', 'not-a-cidr'], removeHeaders: ['bad header'] },
  })
  assert.deepEqual(cross.sort(), [
    'egress.allowNetworks[1]: must be an IP address or CIDR (10.20.0.0/16, fd00::/8)',
    'egress.allow[0].host: must be a host name, "*." followed by a domain, or an IP address',
    'egress.allow[1].scopes[0]: must not contain spaces (the scope claim is space-separated)',
    'egress.auth: required needs auth.jwt (the keys that verify Proxy-Authorization tokens); or set auth: none',
    'egress.port: must differ from server.port, admin.port and server.httpRedirect.port',
    'egress.removeHeaders[0]: must be an HTTP header name',
  ])
  assert.deepEqual(problemsOf({ egress: { auth: 'none' } }), [])
  const defaults = resolveConfig({ auth: { jwt: { secret: JWT_SECRET } }, egress: {} }, { file: null, env: {} }).config!.egress
  assert.deepEqual(defaults, {
    host: '127.0.0.1',
    port: 3128,
    auth: 'required',
    allow: [],
    privateNetworks: 'deny',
    allowNetworks: [],
    removeHeaders: [],
    rateLimit: null,
    timeouts: { connectMs: 5000, idleMs: 300_000 },
  })

  // The CLI says the same, file and key path first.
  const dir = await tempDir(t, 'gatehouse-egress-check-')
  await writeFile(join(dir, 'gateway.yaml'), 'egress:\n  allow:\n    - { host: "*.", ports: [443] }\n')
  const err: string[] = []
  const code = await runCheck({ config: join(dir, 'gateway.yaml') }, { stdout: { write: () => true }, stderr: { write: (s: string) => err.push(s) }, env: {} })
  assert.equal(code, 1)
  assert.match(err.join(''), /gateway\.yaml: egress\.allow\[0\]\.host: /)
  assert.match(err.join(''), /gateway\.yaml: egress\.auth: required needs auth\.jwt/)
})

function mainYaml (egress: string): string {
  return `logging: { level: info, access: true }\nauth: { jwt: { secret: ${JWT_SECRET} } }\negress:\n${egress}`
}

test('SIGHUP applies egress.allow, removeHeaders and rateLimit live; open tunnels keep running; host/port need a restart', async (t) => {
  const a = await createEchoServer(t)
  const b = await createEchoServer(t)
  const gw = await gatewayFromFiles(t, mainYaml(`  port: 0\n  allowNetworks: [127.0.0.1/32]\n  allow: [{ host: 127.0.0.1, ports: [${a.port}] }]\n`), {}, { listen: true })
  const egressUrl = `http://127.0.0.1:${(gw.gateway.egress!.server.address() as AddressInfo).port}`
  const open = await connectVia(t, egressUrl, `127.0.0.1:${a.port}`, AUTH)
  assert.equal(open.status, 200)

  await writeFile(gw.configFile, `servicesDir: ./services.d\n${mainYaml(
    `  port: 3999\n  host: 127.0.0.9\n  allowNetworks: [127.0.0.1/32]\n  allow: [{ host: 127.0.0.1, ports: [${b.port}] }]\n  rateLimit: { max: 2, window: 1m }\n  timeouts: { idle: 1s }\n`)}`)
  const event = await gw.reloader.reload('sighup')
  assert.equal(event.result, 'success')
  const warnings = gw.logs.filter((l) => l.level === 40).map((l) => l.keys)
  assert.deepEqual(warnings, [['egress.host', 'egress.port'], ['egress.timeouts']])

  assert.equal((await roundTrip(open.socket, 'still open')).toString(), 'still open', 'the open tunnel is untouched')
  const toA = await connectVia(t, egressUrl, `127.0.0.1:${a.port}`, AUTH)
  assert.equal(toA.status, 403)
  assert.equal(JSON.parse(await readToEnd(toA)).code, 'GW_EGRESS_DENIED')
  const toB = await connectVia(t, egressUrl, `127.0.0.1:${b.port}`, AUTH)
  assert.equal(toB.status, 200, 'the new entry applies')
  toB.socket.destroy()
  // rateLimit came with the reload: 2 a minute, two used above.
  const limited = await connectVia(t, egressUrl, `127.0.0.1:${b.port}`, AUTH)
  assert.equal(limited.status, 429)
  assert.equal(gw.gateway.ctx.config.egress!.timeouts.idleMs, 300_000, 'restart-only keys keep their running value')
})

test('shutdown lets tunnels run until server.timeouts.drain, then cuts them', async (t) => {
  const echo = await createEchoServer(t)
  const gw = await createEgressGateway(t, { allow: [{ host: '127.0.0.1', ports: [echo.port] }], allowNetworks: ['127.0.0.1/32'] },
    { extra: { server: { timeouts: { drain: '400ms' } } } })
  const tunnel = await connectVia(t, gw.egressUrl, `127.0.0.1:${echo.port}`, AUTH)
  assert.equal(tunnel.status, 200)
  tunnel.socket.removeAllListeners('close')
  const closed = new Promise<number>((resolve) => tunnel.socket.once('close', () => resolve(Date.now())))
  const started = Date.now()
  const stopping = gw.listening!.shutdown()
  // Still moving bytes while the gateway drains.
  assert.equal((await roundTrip(tunnel.socket, 'draining')).toString(), 'draining')
  const cutAt = await closed
  assert.ok(cutAt - started >= 350, `cut after ${cutAt - started} ms, not before drain`)
  assert.ok(cutAt - started < 3000, `cut after ${cutAt - started} ms`)
  await stopping
  assert.equal(echo.sockets.size, 0)
})
