import { Type, type Static } from '@sinclair/typebox'
import { OneOf, Size, Strict, sizeBytes, withDefaults, type Defaulted, type Report } from '../../lib/config/kit.ts'

export const COMPRESSION_ENCODINGS = ['br', 'gzip', 'deflate'] as const

// `compression` (SPEC "Edge options"): `true` or a mapping turns it on with these defaults.
const CompressionOptions = Strict({
  threshold: Type.Optional(Size({ default: '1kb' })),
  encodings: Type.Optional(Type.Array(OneOf(COMPRESSION_ENCODINGS), { minItems: 1, default: ['br', 'gzip'] })),
})

export const CompressionSchema = Type.Union([Type.Boolean(), CompressionOptions])

export type RawCompression = Static<typeof CompressionSchema>

export type CompressionConfig = { threshold: number, encodings: string[] } | false

export function resolveCompression (input: RawCompression, path: string, report: Report): CompressionConfig {
  if (input === false) return false
  const raw = withDefaults(CompressionOptions, input === true ? {} : input) as Defaulted<Static<typeof CompressionOptions>, 'threshold' | 'encodings'>
  return {
    threshold: sizeBytes(raw.threshold, `${path}.threshold`, report, false),
    encodings: [...new Set(raw.encodings)],
  }
}
