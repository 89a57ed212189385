import { Type, type TLiteral, type TProperties, type TSchema, type TUnion } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { DURATION_HINT, DURATION_PATTERN, SIZE_HINT, SIZE_PATTERN, parseDuration, parseSize } from './units.ts'

// What every config section's owner (plugins/<concern>/schema.ts, apps/gateway/config)
// builds its schema and resolver from. Schemas describe the raw YAML, defaults included
// (`default` in the schema, in the units users write); resolvers turn a schema-valid raw
// section into milliseconds and bytes and report what the schema cannot say, by key path.

// ---- schema building blocks ---------------------------------------------------------

// Every object is closed: a typo such as `rateLimt` must fail, not silently drop a limit.
export function Strict<T extends TProperties> (properties: T, options: { default?: unknown } = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options })
}

export function OneOf<const T extends readonly string[]> (values: T, options: { default?: T[number] } = {}): TUnion<Array<TLiteral<T[number]>>> {
  return Type.Union(values.map(v => Type.Literal(v)), options)
}

export const NonEmpty = Type.String({ minLength: 1, errorMessage: 'must be a non-empty string' })
export const List = Type.Array(NonEmpty)
export const Port = Type.Integer({ minimum: 0, maximum: 65535, errorMessage: 'must be a port number (0-65535)' })
export function PositiveInteger (options: { default?: number } = {}) {
  return Type.Integer({ minimum: 1, errorMessage: 'must be a positive integer', ...options })
}
export const PositiveInt = PositiveInteger()

export function Duration (options: { default?: string | number } = {}) {
  return Type.Union([Type.Number({ minimum: 0 }), Type.String({ pattern: DURATION_PATTERN })], { errorMessage: DURATION_HINT, ...options })
}

export function Size (options: { default?: string | number } = {}) {
  return Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: SIZE_PATTERN })], { errorMessage: SIZE_HINT, ...options })
}

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const

// The raw section with the schema's defaults filled in (a copy; the input is untouched).
// Resolvers start from this, so a default is written once, in the schema.
export function withDefaults<T> (schema: TSchema, raw: T): T {
  return Value.Default(schema, structuredClone(raw)) as T
}

// Keys the schema gives a default are present after withDefaults().
export type Defaulted<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: Exclude<T[P], undefined> }

// ---- problems -------------------------------------------------------------------------

// A problem before it is attributed to a file: loaders stamp the file on at the end.
export interface PathProblem {
  path: string
  message: string
}

export type Report = (path: string, message: string) => void

// Key paths as users read them: `services[2].upstreams[0]`, `server.timeouts.upstream`.
export function joinPath (base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`
  return base === '' ? key : `${base}.${key}`
}

// ---- value resolvers --------------------------------------------------------------------

// A duration or size as milliseconds or bytes; a bad value or a zero where a positive one is
// needed is reported at `path` (0 is returned then).
function quantity (parse: (v: string | number) => number) {
  return function resolve (v: string | number, path: string, report: Report, positive: boolean): number {
    let n: number
    try {
      n = parse(v)
    } catch (err) {
      report(path, (err as Error).message)
      return 0
    }
    if (positive && n <= 0) report(path, 'must be greater than 0')
    return n
  }
}

export const durationMs = quantity(parseDuration)
export const sizeBytes = quantity(parseSize)

function httpMethod (m: string): string | null {
  const up = m.toUpperCase()
  return (HTTP_METHODS as readonly string[]).includes(up) ? up : null
}

// A list of methods, upper-cased and without repeats.
export function httpMethods (raw: readonly string[], path: string, report: Report): string[] {
  const out: string[] = []
  raw.forEach((m, i) => {
    const method = httpMethod(m)
    if (method === null) report(joinPath(path, i), `must be an HTTP method (${HTTP_METHODS.join(', ')})`)
    else if (!out.includes(method)) out.push(method)
  })
  return out
}

const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
function headerName (h: string): string | null {
  return HEADER_TOKEN.test(h) ? h.toLowerCase() : null
}

export function headerNames (raw: readonly string[], path: string, report: Report): string[] {
  return raw.map((h, i) => {
    const name = headerName(h)
    if (name === null) report(joinPath(path, i), 'must be an HTTP header name')
    return name ?? h
  })
}
