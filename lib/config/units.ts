// Durations and sizes as users write them in YAML. Both throw a RangeError whose
// message is meant to be shown to the user as is (after the key path).

// Exported as strings too, so the schema checks the same syntax the parsers accept.
export const DURATION_PATTERN = '^\\s*(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h)?\\s*$'
export const SIZE_PATTERN = '^\\s*(\\d+(?:\\.\\d+)?)\\s*([bB]|[kKmMgG][bB])?\\s*$'
const DURATION = new RegExp(DURATION_PATTERN)
const SIZE = new RegExp(SIZE_PATTERN)
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const SIZE_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

export const DURATION_HINT = 'must be a duration: 250ms, 5s, 1m, 1h or a number of milliseconds'
export const SIZE_HINT = 'must be a size: 512kb, 1mb, 1gb or a number of bytes'

// Returns milliseconds. A bare number (or numeric string, e.g. from `${VAR}`) is ms.
export function parseDuration (v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(DURATION_HINT)
    return Math.round(v)
  }
  const m = typeof v === 'string' ? DURATION.exec(v) : null
  if (m === null) throw new RangeError(DURATION_HINT)
  // Rounded so "1.0001s" cannot yield fractional timer values downstream.
  return Math.round(Number(m[1]) * DURATION_MS[m[2] ?? 'ms'])
}

// Returns bytes; kb = 1024 bytes, mb = 1024 kb (SPEC), case-insensitive.
export function parseSize (v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(SIZE_HINT)
    return v
  }
  const m = typeof v === 'string' ? SIZE.exec(v) : null
  if (m === null) throw new RangeError(SIZE_HINT)
  const unit = (m[2] ?? 'b').toLowerCase()
  // "1.5" bytes is not a count anyone means; fractions only make sense with a unit (1.5mb).
  if (unit === 'b' && !Number.isInteger(Number(m[1]))) throw new RangeError(SIZE_HINT)
  const bytes = Math.floor(Number(m[1]) * SIZE_BYTES[unit])
  if (!Number.isSafeInteger(bytes)) throw new RangeError(SIZE_HINT)
  return bytes
}
