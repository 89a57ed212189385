import { Type, type Static } from '@sinclair/typebox'
import {
  Duration, NonEmpty, OneOf, PositiveInteger, Strict, durationMs, headerNames, joinPath, withDefaults,
  type Defaulted, type Report
} from '../../lib/config/kit.ts'

// A service's `cache` section (SPEC "Edge options"), its defaults and resolved form.
export const CacheSchema = Strict({
  ttl: Duration(),
  maxEntries: Type.Optional(PositiveInteger({ default: 10_000 })),
  store: Type.Optional(OneOf(['memory', 'redis'], { default: 'memory' })),
  vary: Type.Optional(Type.Array(NonEmpty, { default: [] })),
  perConsumer: Type.Optional(Type.Boolean({ default: false })),
})

export type RawCache = Static<typeof CacheSchema>

export interface CacheConfig {
  ttlMs: number
  maxEntries: number
  store: 'memory' | 'redis'
  vary: string[]
  perConsumer: boolean
}

export function resolveCache (input: RawCache, path: string, report: Report): CacheConfig {
  const raw = withDefaults(CacheSchema, input) as Defaulted<RawCache, 'maxEntries' | 'store' | 'vary' | 'perConsumer'>
  return {
    ttlMs: durationMs(raw.ttl, joinPath(path, 'ttl'), report, true),
    maxEntries: raw.maxEntries,
    store: raw.store,
    vary: headerNames(raw.vary, joinPath(path, 'vary'), report),
    perConsumer: raw.perConsumer,
  }
}
