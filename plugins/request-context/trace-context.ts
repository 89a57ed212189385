import { randomHex } from './random-hex.ts'

// W3C Trace Context level 1: version-traceid-parentid-flags, lowercase hex, and neither
// id all zeros. Version ff is invalid; higher versions may append fields after a dash.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

export interface TraceContext {
  traceparent: string
  traceId: string
}

export function parseTraceparent (value: string | undefined): TraceContext | null {
  if (typeof value !== 'string' || value.length > 512) return null
  const m = TRACEPARENT.exec(value)
  if (m === null) return null
  const [, version, traceId, spanId, , rest] = m
  if (version === 'ff' || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null
  if (version === '00' && rest !== undefined) return null
  return { traceparent: value, traceId: traceId! }
}

// Trace id and parent id from one draw of 24 random bytes.
export function newTraceContext (): TraceContext {
  const hex = randomHex(24)
  const traceId = hex.slice(0, 32)
  return { traceparent: `00-${traceId}-${hex.slice(32)}-01`, traceId }
}
