import { Type, type Static } from '@sinclair/typebox'
import { NonEmpty, Strict, withDefaults, type Defaulted, type Report } from '../../lib/config/kit.ts'
import { httpUrlProblem } from '../../lib/config/files.ts'

// `tracing` (SPEC "Status page, config schema, tracing"): optional, off without the section.
export const TracingSchema = Strict({
  otlp: Strict({ url: NonEmpty }),
  sampleRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1, errorMessage: 'must be a number from 0 to 1', default: 1 })),
  serviceName: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a non-empty string', default: 'gatehouse' })),
})

export type RawTracing = Static<typeof TracingSchema>

export interface TracingConfig {
  // OTLP/HTTP traces endpoint (JSON encoding), e.g. http://127.0.0.1:4318/v1/traces.
  url: string
  // For new traces; an incoming traceparent's sampled flag decides for its trace.
  sampleRatio: number
  serviceName: string
}

export function resolveTracing (input: RawTracing | undefined, path: string, report: Report): TracingConfig | null {
  if (input === undefined) return null
  const raw = withDefaults(TracingSchema, input) as Defaulted<RawTracing, 'sampleRatio' | 'serviceName'>
  const problem = httpUrlProblem(raw.otlp.url)
  if (problem !== null) report(`${path}.otlp.url`, problem)
  return { url: raw.otlp.url, sampleRatio: raw.sampleRatio, serviceName: raw.serviceName }
}
