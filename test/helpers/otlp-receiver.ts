import type { TestContext } from 'node:test'
import type { ServerResponse } from 'node:http'
import { createUpstream } from './upstream.ts'

// A real OTLP/HTTP traces receiver (JSON encoding) on 127.0.0.1:0: what a collector or
// Jaeger's OTLP port would be handed. `mode` decides how it answers each export.
export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  kind: number // 2 SERVER, 3 CLIENT
  attributes: Record<string, string | number | boolean>
  status: { code?: number }
  service: string | undefined
}

export interface OtlpReceiver {
  url: string
  spans: ReceivedSpan[]
  exports: number
  mode: 'ok' | 'hang' | 'fail'
  // Resolves once at least n spans have arrived.
  waitForSpans: (n: number) => Promise<ReceivedSpan[]>
  // Resolves once at least n export requests have arrived (answered or not).
  waitForExports: (n: number) => Promise<void>
}

type AnyValue = { stringValue?: string, intValue?: string | number, boolValue?: boolean, doubleValue?: number }

function valueOf (v: AnyValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue
  if (v.intValue !== undefined) return Number(v.intValue)
  if (v.boolValue !== undefined) return v.boolValue
  return v.doubleValue ?? ''
}

function attributes (list: Array<{ key: string, value: AnyValue }> = []) {
  return Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]))
}

export async function createOtlpReceiver (t: TestContext): Promise<OtlpReceiver> {
  const waiters: Array<() => void> = []
  const hung: ServerResponse[] = []
  const receiver: OtlpReceiver = {
    url: '',
    spans: [],
    exports: 0,
    mode: 'ok',
    waitForSpans: (n) => until(() => receiver.spans.length >= n).then(() => receiver.spans),
    waitForExports: (n) => until(() => receiver.exports >= n),
  }
  function until (check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve) => {
      const w = () => {
        if (!check()) return
        waiters.splice(waiters.indexOf(w), 1)
        resolve()
      }
      waiters.push(w)
    })
  }
  const up = await createUpstream(t, (req, res, body) => {
    receiver.exports++
    if (req.url === '/v1/traces' && receiver.mode !== 'fail') {
      const doc = JSON.parse(body.toString()) as { resourceSpans: Array<{ resource?: { attributes?: Array<{ key: string, value: AnyValue }> }, scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }> }
      for (const rs of doc.resourceSpans) {
        const service = attributes(rs.resource?.attributes)['service.name'] as string | undefined
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            receiver.spans.push({
              traceId: s.traceId as string,
              spanId: s.spanId as string,
              parentSpanId: (s.parentSpanId as string | undefined) ?? '',
              name: s.name as string,
              kind: s.kind as number,
              attributes: attributes(s.attributes as Array<{ key: string, value: AnyValue }>),
              status: (s.status as { code?: number }) ?? {},
              service,
            })
          }
        }
      }
    }
    for (const w of [...waiters]) w()
    if (receiver.mode === 'hang') {
      hung.push(res)
      return
    }
    res.writeHead(receiver.mode === 'fail' ? 503 : 200, { 'content-type': 'application/json' })
    res.end('{}')
  })
  receiver.url = `${up.origin}/v1/traces`
  t.after(() => { for (const res of hung) res.destroy() })
  return receiver
}
