import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { ServerResponse } from 'node:http'
import { request } from 'undici'
import { closedPort, createUpstream } from '../helpers/upstream.ts'
import { CLI, spawnNode } from '../helpers/process.ts'

async function writeConfig (t: import('node:test').TestContext, upstream: string) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gatehouse-cli-'))
  t.after(() => fs.rm(dir, { recursive: true, force: true }))
  const port = await closedPort()
  const adminPort = await closedPort()
  const file = path.join(dir, 'gateway.yaml')
  await fs.writeFile(file, `
server:
  host: 127.0.0.1
  port: ${port}
  timeouts: { drain: 5s }
admin:
  host: 127.0.0.1
  port: ${adminPort}
logging: { level: info, access: false }
services:
  - name: users
    prefix: /api/users
    upstreams: [${upstream}]
    auth: none
`)
  return { file, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}` }
}

test('gatehouse --config starts, proxies, and on SIGTERM drains the in-flight request and exits 0', async (t) => {
  let hold!: ServerResponse
  const up = await createUpstream(t, (_req, res) => { hold = res })
  const { file, url, adminUrl } = await writeConfig(t, up.origin)
  const proc = spawnNode(t, [CLI, '--config', file])
  await proc.waitFor(/gateway listening/)
  assert.equal((await request(`${adminUrl}/readyz`)).statusCode, 200)

  const arrived = up.nextRequest()
  const inflight = request(`${url}/api/users/1`)
  await arrived
  proc.child.kill('SIGTERM')
  await proc.waitFor(/draining/)
  hold.end('done')
  const res = await inflight
  assert.equal(res.statusCode, 200)
  assert.equal(await res.body.text(), 'done')
  assert.equal(await proc.exited, 0)
  assert.match(proc.stdout(), /gateway stopped/)
})

test('GATEHOUSE_CONFIG is read when --config is absent', async (t) => {
  const up = await createUpstream(t)
  const { file, url } = await writeConfig(t, up.origin)
  const proc = spawnNode(t, [CLI], { GATEHOUSE_CONFIG: file })
  await proc.waitFor(/gateway listening/)
  const res = await request(`${url}/api/users/1`)
  assert.equal(res.statusCode, 200)
  await res.body.dump()
  proc.child.kill('SIGINT')
  assert.equal(await proc.exited, 0)
})

test('bad command-line use exits 2; an invalid config exits 1 naming the key path', async (t) => {
  const unknown = spawnNode(t, [CLI, 'start', '--bogus'])
  assert.equal(await unknown.exited, 2)
  assert.match(unknown.stderr(), /usage:/)
  const missingValue = spawnNode(t, [CLI, 'check', '--config'])
  assert.equal(await missingValue.exited, 2)
  const noSub = spawnNode(t, [CLI, 'token'])
  assert.equal(await noSub.exited, 2)
  const noCommand = spawnNode(t, [CLI, 'frobnicate'])
  assert.equal(await noCommand.exited, 2)

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gatehouse-cli-'))
  t.after(() => fs.rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'gateway.yaml')
  await fs.writeFile(file, 'services:\n  - name: users\n    prefix: /api/users\n    upstreams: [ftp://x]\n')
  const bad = spawnNode(t, [CLI, '--config', file])
  assert.equal(await bad.exited, 1)
  assert.match(bad.stderr(), /gateway\.yaml: services\[0\]\.upstreams\[0\]: must be an http\(s\) URL/)
})
