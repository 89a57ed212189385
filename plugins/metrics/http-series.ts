import type { GatewayMetrics } from './gateway-metrics.ts'

// prom-client resolves a series from a labels object on every call. The label values of
// a request are one of a small, bounded set (service x method x code), so the children
// are created once and kept here, and the hot path does two Map lookups and an index.

// Methods a label may carry; anything else Node's parser accepts (PROPFIND, ...) is OTHER,
// so a client cannot mint label values.
export const METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'OTHER'] as const
const OTHER = METHOD_LABELS.length - 1
const METHOD_INDEX = new Map<string, number>(METHOD_LABELS.map((m, i) => [m, i]))

export function methodIndex (method: string): number {
  return METHOD_INDEX.get(method) ?? OTHER
}

export function methodLabel (method: string): string {
  return METHOD_LABELS[methodIndex(method)]!
}

interface Inc { inc: (value?: number) => void }
interface Observe { observe: (value: number) => void }

interface MethodSeries {
  duration: Observe
  byCode: Map<number, Inc>
  service: string
  method: string
}

export interface HttpSeries {
  // Counts one answered request: its status and its gateway-side duration.
  record: (service: string, method: string, statusCode: number, seconds: number) => void
}

export function createHttpSeries (metrics: GatewayMetrics): HttpSeries {
  const byService = new Map<string, Array<MethodSeries | undefined>>()

  function methodSeries (service: string, index: number): MethodSeries {
    let methods = byService.get(service)
    if (methods === undefined) {
      methods = new Array<MethodSeries | undefined>(METHOD_LABELS.length).fill(undefined)
      byService.set(service, methods)
    }
    let series = methods[index]
    if (series === undefined) {
      const method = METHOD_LABELS[index]!
      series = {
        duration: metrics.httpDuration.labels({ service, method }),
        byCode: new Map(),
        service,
        method,
      }
      methods[index] = series
    }
    return series
  }

  return {
    record (service, method, statusCode, seconds) {
      const series = methodSeries(service, methodIndex(method))
      let counter = series.byCode.get(statusCode)
      if (counter === undefined) {
        counter = metrics.httpRequests.labels({ service: series.service, method: series.method, code: String(statusCode) })
        series.byCode.set(statusCode, counter)
      }
      counter.inc()
      series.duration.observe(seconds)
    },
  }
}
