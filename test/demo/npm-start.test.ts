import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { spawnNode } from '../helpers/process.ts'
import { closedPort } from '../helpers/upstream.ts'
import { hasCurl } from '../helpers/egress.ts'
import { execFile } from 'node:child_process'

const START = fileURLToPath(new URL('../../scripts/start-demo.ts', import.meta.url))

// What a new user does: `npm start`, then paste the printed curl. On free ports rather
// than the defaults (3001-3003, 8080, 8081), through the variables examples/gateway.yaml
// reads, so that a demo already running here or a second test run does not collide.
async function demoPorts (): Promise<NodeJS.ProcessEnv> {
  const [users, orders, identity, gateway, admin, partner, egress] = await Promise.all(Array.from({ length: 7 }, () => closedPort()))
  return {
    USERS_URL: `http://127.0.0.1:${users}`,
    ORDERS_URL: `http://127.0.0.1:${orders}`,
    CATALOG_URL: `http://127.0.0.1:${orders}`,
    IDENTITY_URL: `http://127.0.0.1:${identity}`,
    GATEWAY_PORT: String(gateway),
    ADMIN_PORT: String(admin),
    PARTNER_PORT: String(partner),
    EGRESS_PORT: String(egress),
  }
}

test('npm start brings up the demo and the printed curl returns users through the gateway', async (t) => {
  const ports = await demoPorts()
  const demo = spawnNode(t, [START], ports)
  await demo.waitFor(/export TOKEN=\S+/, 60000)
  const token = /export TOKEN=(\S+)/.exec(demo.stdout() + demo.stderr())![1]!
  const curl = /curl -i -H "Authorization: Bearer \$TOKEN" (http:\/\/\S+\/api\/users\/me)/.exec(demo.stdout())
  assert.ok(curl, 'a ready-to-paste curl for the users service is printed')
  assert.equal(new URL(curl[1]!).port, ports.GATEWAY_PORT)

  const res = await request(curl[1]!, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(res.statusCode, 200)
  const body = await res.body.json() as { consumer: string, user: { username: string } }
  assert.equal(body.consumer, 'alice')
  assert.equal(body.user.username, 'alice')

  const list = await request(curl[1]!.replace(/\/me$/, ''), { headers: { authorization: `Bearer ${token}` } })
  assert.equal(list.statusCode, 200)
  assert.ok(((await list.body.json()) as { users: unknown[] }).users.length > 0)

  // The egress walkthrough as printed: the partner answers, a host not allowed is 403.
  if (await hasCurl()) {
    const lines = demo.stdout().split('\n').filter((l) => /^ {2}(curl|HTTPS_PROXY)/.test(l) && l.includes(`127.0.0.1:${ports.EGRESS_PORT}`))
    assert.equal(lines.length, 3, 'three egress commands are printed')
    const run = (line: string) => new Promise<string>((resolve) => {
      execFile('bash', ['-c', line.trim()], { env: { PATH: process.env.PATH, TOKEN: token }, timeout: 15_000 }, (_err, stdout) => resolve(stdout))
    })
    const partner = await run(lines[0]!)
    assert.match(partner, /^HTTP\/1\.1 200 /)
    assert.match(partner, /"revealed":\[\]/)
    assert.match(await run(lines[1]!), /^HTTP\/1\.1 403 [\s\S]*GW_EGRESS_DENIED/)
    assert.equal((await run(lines[2]!)).trim(), '403')
  }

  demo.child.kill('SIGINT')
  assert.equal(await demo.exited, 0)
})
