import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { request } from 'undici'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { CLI, spawnNode } from '../helpers/process.ts'
import { serviceYaml, tempDir } from './config-files.ts'
import { scrape, value } from '../helpers/metrics.ts'

interface Ports { port: number, adminPort: number }

function mainFile (ports: Ports, upstream: string, extra: { token?: string, services?: string } = {}): string {
  return `server:
  host: 127.0.0.1
  port: ${ports.port}
  timeouts: { drain: 2s }
admin:
  host: 127.0.0.1
  port: ${ports.adminPort}
  token: ${extra.token ?? 'first-token'}
logging: { level: info, access: false }
servicesDir: ./services.d
services:
  - { name: users, prefix: /api/users, upstreams: [${upstream}], auth: none }
${extra.services ?? ''}`
}

async function status (url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { headers })
  await res.body.dump()
  return res.statusCode
}

async function startCli (t: TestContext, upstream: string) {
  const dir = await tempDir(t, 'gatehouse-sighup-')
  await mkdir(join(dir, 'services.d'))
  const ports = { port: await closedPort(), adminPort: await closedPort() }
  const file = join(dir, 'gateway.yaml')
  await writeFile(file, mainFile(ports, upstream))
  const proc = spawnNode(t, [CLI, '--config', file])
  await proc.waitFor(/gateway listening/)
  return { dir, file, ports, proc, url: `http://127.0.0.1:${ports.port}`, adminUrl: `http://127.0.0.1:${ports.adminPort}` }
}

// Count of log lines matching `pattern` so far: waitFor a new one, not an old one.
function lines (text: string, pattern: RegExp): number {
  return text.split('\n').filter((l) => pattern.test(l)).length
}

test('SIGHUP re-reads the main file: services and the admin token apply, a port change is a warning; SIGTERM still exits 0', async (t) => {
  const up = await createUpstream(t)
  const cli = await startCli(t, up.origin)
  assert.equal(await status(`${cli.url}/api/orders/1`), 404)

  const otherPort = await closedPort()
  await writeFile(cli.file, mainFile({ ...cli.ports, port: otherPort }, up.origin, {
    token: 'second-token',
    services: `  - { name: orders, prefix: /api/orders, upstreams: [${up.origin}], auth: none }\n`,
  }))
  cli.proc.child.kill('SIGHUP')
  await cli.proc.waitFor(/"msg":"config reloaded"/)

  const out = cli.proc.stdout()
  assert.match(out, /"level":40[^\n]*listen address change needs a restart; ignored: server\.port/)
  assert.match(out, /"trigger":"sighup","added":\["orders"\][^\n]*"msg":"config reloaded"/)
  assert.equal(await status(`${cli.url}/api/orders/1`), 200, 'the new service answers on the running port')
  assert.equal(await status(`${cli.url}/api/users/1`), 200)
  assert.equal(await status(`${cli.adminUrl}/admin/services`, { authorization: 'Bearer first-token' }), 401)
  assert.equal(await status(`${cli.adminUrl}/admin/services`, { authorization: 'Bearer second-token' }), 200)

  // The real process also watches servicesDir.
  await writeFile(join(cli.dir, 'services.d', 'extra.yaml'), serviceYaml('extra', '/api/extra', up.origin))
  await cli.proc.waitFor(/"added":\["extra"\]/, 3000)
  assert.equal(await status(`${cli.url}/api/extra/1`), 200)

  cli.proc.child.kill('SIGTERM')
  assert.equal(await cli.proc.exited, 0)
  assert.match(cli.proc.stdout(), /gateway stopped/)
})

test('SIGHUP with a broken main file: rejected whole with an error naming file and key path, old config keeps serving; fixed, it applies', async (t) => {
  const up = await createUpstream(t)
  const cli = await startCli(t, up.origin)
  const good = mainFile(cli.ports, up.origin)

  await writeFile(cli.file, good.replace('services:\n', 'services:\n  - { name: orders, prefix: /api/orders, upstreams: [localhost:1], auth: none }\n'))
  const before = lines(cli.proc.stdout(), /config reload rejected/)
  cli.proc.child.kill('SIGHUP')
  await cli.proc.waitFor(/config reload rejected/)
  assert.equal(lines(cli.proc.stdout(), /config reload rejected/), before + 1)
  assert.match(cli.proc.stdout(), /"level":50[^\n]*gateway\.yaml: services\[0\]\.upstreams\[0\]: must be an http\(s\) URL/)
  assert.equal(await status(`${cli.url}/api/users/1`), 200)
  assert.equal(await status(`${cli.url}/api/orders/1`), 404)
  assert.equal(value((await scrape(cli.adminUrl)).families, 'gatehouse_config_reloads_total', { result: 'failure' }), 1)

  await writeFile(cli.file, good.replace('services:\n', `services:\n  - { name: orders, prefix: /api/orders, upstreams: [${up.origin}], auth: none }\n`))
  cli.proc.child.kill('SIGHUP')
  await cli.proc.waitFor(/"msg":"config reloaded"/)
  assert.equal(await status(`${cli.url}/api/orders/1`), 200)
  assert.equal(value((await scrape(cli.adminUrl)).families, 'gatehouse_config_reloads_total', { result: 'success' }), 1)

  cli.proc.child.kill('SIGTERM')
  assert.equal(await cli.proc.exited, 0)
})
