// What the edge tests share: the cache tests' counting upstream, service and counter, and a gate.
import type http from 'node:http'
import type { TestContext } from 'node:test'
import type { Gateway } from '../../apps/gateway/app.ts'
import { metricValue } from '../helpers/metrics.ts'
import { createUpstream, type Upstream } from '../helpers/upstream.ts'

// A deferred the tests resolve to let a held upstream answer.
export function gate (): { promise: Promise<void>, open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => { open = resolve })
  return { promise, open }
}

// An upstream that counts its calls and answers each with a body naming the call, so a
// test can tell a cached answer (an old call number) from a fresh one.
export async function countingUpstream (t: TestContext,
  headers: (req: http.IncomingMessage) => http.OutgoingHttpHeaders = () => ({}),
  hold?: Promise<void>): Promise<Upstream & { calls: () => number }> {
  let calls = 0
  const up = await createUpstream(t, (req, res) => {
    const n = ++calls
    const body = JSON.stringify({
      call: n,
      url: req.url,
      consumer: req.headers['x-consumer-id'] ?? null,
      lang: req.headers['accept-language'] ?? null,
      variant: req.headers['x-variant'] ?? null
    })
    const send = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers(req) })
      res.end(body)
    }
    if (hold === undefined) send()
    else void hold.then(send)
  })
  return Object.assign(up, { calls: () => calls })
}

export function svc (up: Upstream, extra: Record<string, unknown> = {}) {
  return { name: 'items', prefix: '/api/items', upstreams: [up.origin], cache: { ttl: '1m' }, ...extra }
}

export async function cacheMetric (gateway: Gateway, result: string) {
  return (await metricValue(gateway, 'gatehouse_cache_requests_total', { service: 'items', result })) ?? 0
}
