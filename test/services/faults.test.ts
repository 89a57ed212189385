import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from 'undici'
import type { FastifyInstance } from 'fastify'
import { buildUsersService } from '../../services/users/app.ts'
import type { ServiceOptions } from '../../services/shared/base-app.ts'

type Ctx = import('node:test').TestContext

function setup (t: Ctx, opts: ServiceOptions = {}) {
  const app = buildUsersService(opts)
  t.after(() => app.close())
  return app
}

async function listen (t: Ctx, app: FastifyInstance) {
  const origin = await app.listen({ port: 0, host: '127.0.0.1' })
  const client = new Client(origin)
  t.after(() => client.destroy())
  return client
}

const setFaults = (app: FastifyInstance, payload: object) =>
  app.inject({ method: 'POST', url: '/__faults', payload })

test('errorRate 1 in error mode answers 500, except /health and /__faults', async (t) => {
  const app = setup(t)
  const set = await setFaults(app, { errorRate: 1, mode: 'error' })
  assert.equal(set.statusCode, 200)
  assert.deepEqual(set.json(), { errorRate: 1, delayMs: 0, mode: 'error' })

  const res = await app.inject({ method: 'GET', url: '/users' })
  assert.equal(res.statusCode, 500)
  assert.equal(res.json().message, 'injected fault')
  assert.equal((await app.inject({ method: 'GET', url: '/users/1' })).statusCode, 500)

  assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
  assert.deepEqual((await app.inject({ method: 'GET', url: '/__faults' })).json(), { errorRate: 1, delayMs: 0, mode: 'error' })

  const cleared = await app.inject({ method: 'DELETE', url: '/__faults' })
  assert.equal(cleared.statusCode, 204)
  assert.equal((await app.inject({ method: 'GET', url: '/users' })).statusCode, 200)
})

test('errorRate is the fraction of requests that fail', async (t) => {
  const draws = [0.49, 0.5, 0.1, 0.99]
  const app = setup(t, { random: () => draws.shift() ?? 1 })
  await setFaults(app, { errorRate: 0.5 })
  const codes = []
  for (let i = 0; i < 4; i++) codes.push((await app.inject({ method: 'GET', url: '/users' })).statusCode)
  assert.deepEqual(codes, [500, 200, 500, 200])
})

test('naming a mode without errorRate fails every request', async (t) => {
  const app = setup(t)
  assert.deepEqual((await setFaults(app, { mode: 'error' })).json(), { errorRate: 1, delayMs: 0, mode: 'error' })
  assert.equal((await app.inject({ method: 'GET', url: '/users' })).statusCode, 500)
})

test('invalid fault settings are 400 and keep the previous ones', async (t) => {
  const app = setup(t)
  for (const payload of [{ errorRate: 2 }, { errorRate: -0.1 }, { mode: 'explode' }, { delayMs: -5 }, { delayMs: 1.5 }]) {
    assert.equal((await setFaults(app, payload)).statusCode, 400, JSON.stringify(payload))
  }
  assert.deepEqual((await app.inject({ method: 'GET', url: '/__faults' })).json(), { errorRate: 0, delayMs: 0, mode: 'error' })
})

test('delayMs holds every answer back until the delay ends, never /health', async (t) => {
  const delays: number[] = []
  let release!: () => void
  let sleeping!: () => void
  const asleep = new Promise<void>((resolve) => { sleeping = resolve })
  const app = setup(t, {
    sleep: (ms) => {
      delays.push(ms)
      sleeping()
      return new Promise<void>((resolve) => { release = resolve })
    },
  })
  await setFaults(app, { delayMs: 2000 })

  let answered = false
  const pending = app.inject({ method: 'GET', url: '/users' }).then((res) => { answered = true; return res })
  await asleep
  assert.equal(answered, false)

  assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
  assert.deepEqual(delays, [2000], '/health was not delayed')
  assert.equal(answered, false)

  release()
  const res = await pending
  assert.equal(res.statusCode, 200)
})

test('reset mode destroys the socket: the client sees a socket error', async (t) => {
  const app = setup(t)
  const client = await listen(t, app)
  await setFaults(app, { errorRate: 1, mode: 'reset' })
  await assert.rejects(
    client.request({ method: 'GET', path: '/users' }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'UND_ERR_SOCKET')
      return true
    }
  )
  const health = await client.request({ method: 'GET', path: '/health' })
  assert.equal(health.statusCode, 200)
  await health.body.dump()
})

test('hang mode never answers: the request ends only when the client aborts', async (t) => {
  const app = setup(t)
  const client = await listen(t, app)
  await setFaults(app, { mode: 'hang' })
  await assert.rejects(
    client.request({ method: 'GET', path: '/users', signal: AbortSignal.timeout(300) }),
    (err: Error) => {
      assert.match(err.name, /TimeoutError|AbortError/)
      return true
    }
  )
  const health = await client.request({ method: 'GET', path: '/health' })
  assert.equal(health.statusCode, 200)
  await health.body.dump()
})

test('close() cuts requests left hanging instead of waiting for them', async (t) => {
  const app = buildUsersService()
  const client = await listen(t, app)
  await setFaults(app, { mode: 'hang' })
  let sawRequest!: () => void
  const arrived = new Promise<void>((resolve) => { sawRequest = resolve })
  app.server.once('request', () => sawRequest())
  const hung = client.request({ method: 'GET', path: '/users' })
  const outcome = hung.then(() => 'answered', (err: Error & { code?: string }) => err.code)
  await arrived
  await app.close()
  assert.equal(await outcome, 'UND_ERR_SOCKET')
})
