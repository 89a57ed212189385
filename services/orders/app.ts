// The "orders" sample service. Paths are what the gateway sends after rewriting
// /api/orders -> /orders (and /api/catalog -> /orders in the services.d example).
import type { FastifyInstance } from 'fastify'
import { createServiceApp, notFound, requestInfo } from '../shared/base-app.ts'
import type { ServiceOptions } from '../shared/base-app.ts'

export interface OrderItem {
  sku: string
  quantity: number
  unitPrice: number
}

export interface Order {
  id: string
  customer: string
  items: OrderItem[]
  total: number
  status: 'pending' | 'paid' | 'shipped'
  createdAt: string
}

interface NewOrder {
  customer?: string
  items: OrderItem[]
}

const newOrderSchema = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: {
    customer: { type: 'string', minLength: 1, maxLength: 64 },
    items: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: {
        type: 'object',
        required: ['sku', 'quantity', 'unitPrice'],
        additionalProperties: false,
        properties: {
          sku: { type: 'string', pattern: '^[A-Z0-9-]{1,32}$' },
          quantity: { type: 'integer', minimum: 1, maximum: 1000 },
          unitPrice: { type: 'number', minimum: 0 },
        },
      },
    },
  },
} as const

// Cents avoid 0.1 + 0.2 style totals.
const totalOf = (items: OrderItem[]) =>
  items.reduce((sum, i) => sum + Math.round(i.unitPrice * 100) * i.quantity, 0) / 100

function seed (): Order[] {
  const createdAt = '2024-01-02T00:00:00.000Z'
  const order = (id: string, customer: string, items: OrderItem[], status: Order['status']): Order =>
    ({ id, customer, items, total: totalOf(items), status, createdAt })
  return [
    order('1', 'alice', [{ sku: 'BOOK-42', quantity: 1, unitPrice: 12.5 }], 'shipped'),
    order('2', 'alice', [{ sku: 'MUG-7', quantity: 2, unitPrice: 8 }], 'paid'),
    order('3', 'bob', [{ sku: 'PEN-1', quantity: 10, unitPrice: 1.2 }], 'pending'),
  ]
}

export function buildOrdersService (opts: ServiceOptions = {}): FastifyInstance {
  const app = createServiceApp(opts)
  const orders = seed()
  let nextId = orders.length + 1

  app.get<{ Querystring: { customer?: string } }>('/orders', {
    schema: { querystring: { type: 'object', properties: { customer: { type: 'string' } } } },
  }, async (req) => {
    const { customer } = req.query
    return { orders: customer ? orders.filter((o) => o.customer === customer) : orders }
  })

  app.get('/orders/me', async (req) => {
    const info = requestInfo(req)
    return { ...info, orders: orders.filter((o) => o.customer === info.consumer) }
  })

  app.get<{ Params: { id: string } }>('/orders/:id', async (req, reply) => {
    const order = orders.find((o) => o.id === req.params.id)
    if (!order) return reply.code(404).send(notFound(`order ${req.params.id} not found`))
    return order
  })

  app.post<{ Body: NewOrder }>('/orders', { schema: { body: newOrderSchema } }, async (req, reply) => {
    // Behind the gateway the caller is the authenticated consumer.
    const customer = req.body.customer ?? requestInfo(req).consumer
    if (!customer) {
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: 'body/customer is required when no X-Consumer-Id is sent' })
    }
    const { items } = req.body
    const order: Order = {
      id: String(nextId++), customer, items, total: totalOf(items), status: 'pending', createdAt: new Date().toISOString(),
    }
    orders.push(order)
    return reply.code(201).header('location', `/orders/${order.id}`).send(order)
  })

  return app
}
