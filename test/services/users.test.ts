import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildUsersService } from '../../services/users/app.ts'

function setup (t: import('node:test').TestContext) {
  const app = buildUsersService()
  t.after(() => app.close())
  return app
}

test('GET /health answers ok', async (t) => {
  const res = await setup(t).inject({ method: 'GET', url: '/health' })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { status: 'ok' })
})

test('GET /users lists the seeded users', async (t) => {
  const res = await setup(t).inject({ method: 'GET', url: '/users' })
  assert.equal(res.statusCode, 200)
  const { users } = res.json()
  assert.ok(users.length >= 3)
  assert.deepEqual(users.map((u: { username: string }) => u.username).slice(0, 3), ['alice', 'bob', 'carol'])
})

test('GET /users/:id finds one user and 404s as JSON when missing', async (t) => {
  const app = setup(t)
  const found = await app.inject({ method: 'GET', url: '/users/1' })
  assert.equal(found.statusCode, 200)
  assert.equal(found.json().username, 'alice')

  const missing = await app.inject({ method: 'GET', url: '/users/999' })
  assert.equal(missing.statusCode, 404)
  assert.match(missing.headers['content-type'] as string, /application\/json/)
  assert.deepEqual(missing.json(), { statusCode: 404, error: 'Not Found', message: 'user 999 not found' })
})

test('POST /users creates a user with a Location under the rewritten prefix', async (t) => {
  const app = setup(t)
  const res = await app.inject({
    method: 'POST', url: '/users', payload: { username: 'dave', name: 'Dave Grohl', email: 'dave@example.com' },
  })
  assert.equal(res.statusCode, 201)
  const user = res.json()
  assert.equal(user.username, 'dave')
  assert.equal(res.headers.location, `/users/${user.id}`)

  const again = await app.inject({ method: 'GET', url: `/users/${user.id}` })
  assert.equal(again.json().email, 'dave@example.com')

  const dup = await app.inject({
    method: 'POST', url: '/users', payload: { username: 'dave', name: 'Other', email: 'other@example.com' },
  })
  assert.equal(dup.statusCode, 409)
})

test('POST /users rejects invalid bodies with 400', async (t) => {
  const app = setup(t)
  const bad = [
    {},
    { username: 'x', name: 'Too short username', email: 'x@example.com' },
    { username: 'eve', name: 'Eve', email: 'not-an-email' },
    { username: 'eve', name: '', email: 'eve@example.com' },
    { username: 'eve', name: 'Eve', email: 42 },
  ]
  for (const payload of bad) {
    const res = await app.inject({ method: 'POST', url: '/users', payload })
    assert.equal(res.statusCode, 400, JSON.stringify(payload))
    assert.equal(res.json().error, 'Bad Request')
  }
  const notJson = await app.inject({
    method: 'POST', url: '/users', payload: '{"username":', headers: { 'content-type': 'application/json' },
  })
  assert.equal(notJson.statusCode, 400)
})

test('GET /users/me echoes what the gateway says about the caller', async (t) => {
  const app = setup(t)
  const res = await app.inject({
    method: 'GET',
    url: '/users/me',
    headers: {
      'x-consumer-id': 'alice',
      'x-consumer-scopes': 'users:read users:write',
      'x-request-id': 'req-1',
      'x-forwarded-prefix': '/api/users',
    },
  })
  assert.equal(res.statusCode, 200)
  const body = res.json()
  assert.equal(body.consumer, 'alice')
  assert.deepEqual(body.scopes, ['users:read', 'users:write'])
  assert.equal(body.requestId, 'req-1')
  assert.equal(body.forwarded.prefix, '/api/users')
  assert.equal(body.user.username, 'alice')

  const anonymous = await app.inject({ method: 'GET', url: '/users/me' })
  assert.equal(anonymous.json().consumer, null)
  assert.deepEqual(anonymous.json().scopes, [])
  assert.equal(anonymous.json().user, null)
})

test('each instance has its own data', async (t) => {
  const a = setup(t)
  const b = setup(t)
  await a.inject({ method: 'POST', url: '/users', payload: { username: 'zed', name: 'Zed', email: 'zed@example.com' } })
  const res = await b.inject({ method: 'GET', url: '/users' })
  assert.ok(!res.json().users.some((u: { username: string }) => u.username === 'zed'))
})
