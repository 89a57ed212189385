// The "users" sample service. Paths are what the gateway sends after rewriting
// /api/users -> /users.
import type { FastifyInstance } from 'fastify'
import { createServiceApp, notFound, requestInfo } from '../shared/base-app.ts'
import type { ServiceOptions } from '../shared/base-app.ts'

export interface User {
  id: string
  username: string
  name: string
  email: string
  createdAt: string
}

interface NewUser {
  username: string
  name: string
  email: string
}

const userSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    name: { type: 'string' },
    email: { type: 'string' },
    createdAt: { type: 'string' },
  },
} as const

const newUserSchema = {
  type: 'object',
  required: ['username', 'name', 'email'],
  additionalProperties: false,
  properties: {
    username: { type: 'string', pattern: '^[a-z0-9_-]{2,32}$' },
    name: { type: 'string', minLength: 1, maxLength: 100 },
    email: { type: 'string', format: 'email', maxLength: 254 },
  },
} as const

function seed (): User[] {
  const createdAt = '2024-01-01T00:00:00.000Z'
  return [
    { id: '1', username: 'alice', name: 'Alice Liddell', email: 'alice@example.com', createdAt },
    { id: '2', username: 'bob', name: 'Bob Builder', email: 'bob@example.com', createdAt },
    { id: '3', username: 'carol', name: 'Carol Danvers', email: 'carol@example.com', createdAt },
  ]
}

export function buildUsersService (opts: ServiceOptions = {}): FastifyInstance {
  const app = createServiceApp(opts)
  const users = seed()
  let nextId = users.length + 1

  app.get('/users', { schema: { response: { 200: { type: 'object', properties: { users: { type: 'array', items: userSchema } } } } } }, async () => ({ users }))

  // Static before parametric: find-my-way matches /users/me here, not /users/:id.
  app.get('/users/me', async (req) => {
    const info = requestInfo(req)
    const user = users.find((u) => u.username === info.consumer) ?? null
    return { ...info, user }
  })

  app.get<{ Params: { id: string } }>('/users/:id', async (req, reply) => {
    const user = users.find((u) => u.id === req.params.id)
    if (!user) return reply.code(404).send(notFound(`user ${req.params.id} not found`))
    return user
  })

  app.post<{ Body: NewUser }>('/users', { schema: { body: newUserSchema } }, async (req, reply) => {
    const { username, name, email } = req.body
    if (users.some((u) => u.username === username)) {
      return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: `username ${username} is taken` })
    }
    const user: User = { id: String(nextId++), username, name, email, createdAt: new Date().toISOString() }
    users.push(user)
    return reply.code(201).header('location', `/users/${user.id}`).send(user)
  })

  return app
}
