import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { spawnNode } from '../helpers/process.ts'

const START = fileURLToPath(new URL('../../scripts/start-demo.ts', import.meta.url))

// What a new user does: `npm start`, then paste the printed curl. Uses the demo's fixed
// ports (3001-3003, 8080, 8081); the script refuses to start when one is taken.
test('npm start brings up the demo and the printed curl returns users through the gateway', async (t) => {
  const demo = spawnNode(t, [START])
  await demo.waitFor(/export TOKEN=\S+/, 60000)
  const token = /export TOKEN=(\S+)/.exec(demo.stdout() + demo.stderr())![1]!
  const curl = /curl -i -H "Authorization: Bearer \$TOKEN" (http:\/\/\S+\/api\/users\/me)/.exec(demo.stdout())
  assert.ok(curl, 'a ready-to-paste curl for the users service is printed')

  const res = await request(curl[1]!, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(res.statusCode, 200)
  const body = await res.body.json() as { consumer: string, user: { username: string } }
  assert.equal(body.consumer, 'alice')
  assert.equal(body.user.username, 'alice')

  const list = await request(curl[1]!.replace(/\/me$/, ''), { headers: { authorization: `Bearer ${token}` } })
  assert.equal(list.statusCode, 200)
  assert.ok(((await list.body.json()) as { users: unknown[] }).users.length > 0)

  demo.child.kill('SIGINT')
  assert.equal(await demo.exited, 0)
})
