// The "partner" sample service: a third-party API our services call *out* to, through
// the gateway's egress port (examples/gateway.yaml allows it). It echoes what a
// destination learns about the caller, so the demo shows that it learns nothing.
import type { FastifyInstance } from 'fastify'
import { createServiceApp } from '../shared/base-app.ts'
import type { ServiceOptions } from '../shared/base-app.ts'

const RATES = { base: 'EUR', rates: { USD: 1.08, GBP: 0.85, JPY: 161.2 } }

// Headers that would name the caller or its proxy; the egress port removes them all.
const REVEALING = ['via', 'forwarded', 'x-forwarded-for', 'x-real-ip', 'x-request-id', 'traceparent', 'x-consumer-id', 'proxy-authorization']

export function buildPartnerService (opts: ServiceOptions = {}): FastifyInstance {
  const app = createServiceApp(opts)
  app.get('/rates', async (req) => ({
    ...RATES,
    // What reached us of the caller's identity: empty through the egress port.
    revealed: REVEALING.filter((h) => req.headers[h] !== undefined),
  }))
  return app
}
