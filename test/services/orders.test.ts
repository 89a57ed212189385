import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildOrdersService } from '../../services/orders/app.ts'

function setup (t: import('node:test').TestContext) {
  const app = buildOrdersService()
  t.after(() => app.close())
  return app
}

const item = { sku: 'BOOK-42', quantity: 3, unitPrice: 0.1 }

test('GET /health answers ok', async (t) => {
  const res = await setup(t).inject({ method: 'GET', url: '/health' })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { status: 'ok' })
})

test('GET /orders lists orders and filters by customer', async (t) => {
  const app = setup(t)
  const all = await app.inject({ method: 'GET', url: '/orders' })
  assert.equal(all.statusCode, 200)
  assert.ok(all.json().orders.length >= 3)

  const alice = await app.inject({ method: 'GET', url: '/orders?customer=alice' })
  const orders = alice.json().orders
  assert.ok(orders.length > 0)
  assert.ok(orders.every((o: { customer: string }) => o.customer === 'alice'))
})

test('GET /orders/:id finds one order and 404s as JSON when missing', async (t) => {
  const app = setup(t)
  const found = await app.inject({ method: 'GET', url: '/orders/1' })
  assert.equal(found.statusCode, 200)
  assert.equal(found.json().id, '1')

  const missing = await app.inject({ method: 'GET', url: '/orders/nope' })
  assert.equal(missing.statusCode, 404)
  assert.deepEqual(missing.json(), { statusCode: 404, error: 'Not Found', message: 'order nope not found' })
})

test('POST /orders takes the customer from X-Consumer-Id and totals in cents', async (t) => {
  const app = setup(t)
  const res = await app.inject({
    method: 'POST', url: '/orders', headers: { 'x-consumer-id': 'carol' }, payload: { items: [item] },
  })
  assert.equal(res.statusCode, 201)
  const order = res.json()
  assert.equal(order.customer, 'carol')
  assert.equal(order.total, 0.3)
  assert.equal(order.status, 'pending')
  assert.equal(res.headers.location, `/orders/${order.id}`)

  const mine = await app.inject({ method: 'GET', url: '/orders/me', headers: { 'x-consumer-id': 'carol' } })
  assert.equal(mine.json().consumer, 'carol')
  assert.deepEqual(mine.json().orders.map((o: { id: string }) => o.id), [order.id])
})

test('POST /orders accepts an explicit customer', async (t) => {
  const res = await setup(t).inject({ method: 'POST', url: '/orders', payload: { customer: 'bob', items: [item] } })
  assert.equal(res.statusCode, 201)
  assert.equal(res.json().customer, 'bob')
})

test('POST /orders rejects invalid bodies with 400', async (t) => {
  const app = setup(t)
  const bad = [
    {},
    { items: [] },
    { items: [{ sku: 'BOOK-42', quantity: 0, unitPrice: 1 }] },
    { items: [{ sku: 'BOOK-42', quantity: 1.5, unitPrice: 1 }] },
    { items: [{ sku: 'book 42', quantity: 1, unitPrice: 1 }] },
    { items: [{ sku: 'BOOK-42', quantity: 1, unitPrice: -1 }] },
    { items: [{ sku: 'BOOK-42', quantity: 1 }] },
  ]
  for (const payload of bad) {
    const res = await app.inject({ method: 'POST', url: '/orders', headers: { 'x-consumer-id': 'alice' }, payload })
    assert.equal(res.statusCode, 400, JSON.stringify(payload))
  }
  const anonymous = await app.inject({ method: 'POST', url: '/orders', payload: { items: [item] } })
  assert.equal(anonymous.statusCode, 400)
  assert.match(anonymous.json().message, /customer/)
})
