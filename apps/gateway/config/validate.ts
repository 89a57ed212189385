import type { TSchema } from '@sinclair/typebox'
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value'
import { coerceExpanded } from './expand-env.ts'
import { joinPath, type PathProblem } from '../../../lib/config/kit.ts'

// Two passes over a raw (env-expanded) tree against a TypeBox schema:
// normalize() prepares it the way YAML users expect (an empty `key:` means unset,
// `${PORT}` may feed a number) and reports unknown keys with a suggestion, dropping
// them so the rest can still be checked; schemaProblems() turns TypeBox's errors
// into one readable message per key path.

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'null'

interface SchemaNode {
  type?: string
  const?: unknown
  anyOf?: SchemaNode[]
  items?: SchemaNode
  properties?: Record<string, SchemaNode>
  required?: string[]
  additionalProperties?: boolean
  errorMessage?: string
  minLength?: number
  minItems?: number
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  pattern?: string
}

function kindOf (v: unknown): Kind {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  const t = typeof v
  return t === 'string' || t === 'number' || t === 'boolean' ? t : 'object'
}

function kindsOf (s: SchemaNode): Set<Kind> {
  if (s.anyOf !== undefined) return new Set(s.anyOf.flatMap(v => [...kindsOf(v)]))
  if (s.type === 'integer') return new Set(['number'])
  return new Set(s.type === undefined ? [] : [s.type as Kind])
}

// The one variant of a (possibly union) schema that describes values of this kind.
function variantFor (s: SchemaNode, kind: Kind): SchemaNode | undefined {
  const variants = (s.anyOf ?? [s]).filter(v => kindsOf(v).has(kind))
  return variants.length === 1 ? variants[0] : undefined
}

function editDistance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return row[b.length]
}

function unknownKeyMessage (key: string, known: string[]): string {
  const close = known.find(k => k.toLowerCase() === key.toLowerCase()) ??
    known.map(k => ({ k, d: editDistance(key, k) })).filter(x => x.d <= 2).sort((x, y) => x.d - y.d)[0]?.k
  return close !== undefined
    ? `unknown key (did you mean "${close}"?)`
    : `unknown key (allowed: ${known.join(', ')})`
}

export function normalize (schema: TSchema, value: unknown, expanded: Set<string>, base = ''): { value: unknown, problems: PathProblem[] } {
  const problems: PathProblem[] = []
  const walk = (s: SchemaNode, v: unknown, path: string): unknown => {
    const kind = kindOf(v)
    if (kind === 'string' && expanded.has(path)) {
      const kinds = kindsOf(s)
      if (kinds.has('string')) return v
      return coerceExpanded(v as string, { number: kinds.has('number'), boolean: kinds.has('boolean') })
    }
    const node = variantFor(s, kind)
    if (node === undefined) return v
    if (kind === 'array' && node.items !== undefined) {
      const items = node.items
      return (v as unknown[]).map((item, i) => walk(items, item, joinPath(path, i)))
    }
    if (kind === 'object' && node.properties !== undefined) {
      const props = node.properties
      const out: Record<string, unknown> = {}
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        if (!Object.hasOwn(props, k)) {
          if (node.additionalProperties === false) {
            problems.push({ path: joinPath(path, k), message: unknownKeyMessage(k, Object.keys(props)) })
            continue
          }
          out[k] = item
          continue
        }
        // `key:` with nothing after it is YAML null; users mean "not set".
        if (item === null) continue
        out[k] = walk(props[k], item, joinPath(path, k))
      }
      return out
    }
    return v
  }
  return { value: walk(schema as SchemaNode, value, base), problems }
}

// JSON pointer (`/services/2/upstreams/0`) to a key path (`services[2].upstreams[0]`).
// After normalize() every object key is a schema key, so numeric segments are indexes.
function pointerToPath (pointer: string, base: string): string {
  let path = base
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    path = /^\d+$/.test(seg) ? joinPath(path, Number(seg)) : joinPath(path, seg)
  }
  return path
}

function describeKinds (s: SchemaNode): string {
  const parts = (s.anyOf ?? [s]).map(v => {
    if (v.const !== undefined) return JSON.stringify(v.const)
    switch (v.type) {
      case 'object': return 'a mapping'
      case 'array': return 'a list'
      case 'boolean': return 'true or false'
      case 'integer': return 'an integer'
      case 'number': return 'a number'
      default: return 'a string'
    }
  })
  return `must be ${parts.join(' or ')}`
}

function messageFor (e: ValueError): string {
  const s = e.schema as SchemaNode
  if (e.type === ValueErrorType.ObjectRequiredProperty) return 'is required'
  if (s.errorMessage !== undefined) return s.errorMessage
  switch (e.type) {
    case ValueErrorType.String: return 'must be a string'
    case ValueErrorType.Number: return 'must be a number'
    case ValueErrorType.Integer: return 'must be an integer'
    case ValueErrorType.Boolean: return 'must be true or false'
    case ValueErrorType.Array: return 'must be a list'
    case ValueErrorType.Object: return 'must be a mapping'
    case ValueErrorType.Literal: return `must be ${JSON.stringify(s.const)}`
    case ValueErrorType.StringMinLength: return s.minLength === 1 ? 'must not be empty' : `must be at least ${s.minLength} characters`
    case ValueErrorType.StringPattern: return `must match ${s.pattern}`
    case ValueErrorType.ArrayMinItems: return s.minItems === 1 ? 'must not be empty' : `needs at least ${s.minItems} entries`
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum: return `must be at least ${s.minimum}`
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum: return `must be at most ${s.maximum}`
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum: return `must be greater than ${s.exclusiveMinimum}`
    default: return e.message
  }
}

function * explain (schema: TSchema, value: unknown, base: string): Generator<PathProblem> {
  for (const e of Value.Errors(schema, value)) {
    const path = pointerToPath(e.path, base)
    const s = e.schema as SchemaNode
    if (e.type !== ValueErrorType.Union || s.errorMessage !== undefined) {
      yield { path, message: messageFor(e) }
      continue
    }
    const variants = s.anyOf ?? []
    if (variants.every(v => v.const !== undefined)) {
      yield { path, message: `must be one of: ${variants.map(v => String(v.const)).join(', ')}` }
      continue
    }
    // e.g. `rateLimit: { max: 0 }` against `false | {max, window}`: the object variant
    // is the one the user meant, so its own errors are the useful ones.
    const meant = variantFor(s, kindOf(e.value))
    if (meant === undefined || (meant.properties === undefined && meant.items === undefined)) yield { path, message: describeKinds(s) }
    else yield * explain(meant as TSchema, e.value, path)
  }
}

export function schemaProblems (schema: TSchema, value: unknown, base = ''): PathProblem[] {
  // TypeBox reports a missing key twice (required, then wrong type): keep the first.
  return firstPerPath([...explain(schema, value, base)])
}

// The schema with its value constraints (patterns, ranges, lengths) removed, types and
// required keys kept. Resolvers run on whatever passes it, so a bad service name does
// not hide that service's bad upstream; the constraint's own problem is already reported.
const CONSTRAINTS = new Set(['pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum',
  'exclusiveMaximum', 'minItems', 'maxItems', 'multipleOf'])
const shapes = new WeakMap<TSchema, TSchema>()

function strip (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strip)
  if (node === null || typeof node !== 'object') return node
  // Spread keeps TypeBox's symbol keys (Kind, Optional), which Value.Check relies on.
  const out: Record<string | symbol, unknown> = { ...node }
  for (const key of Object.keys(out)) {
    if (CONSTRAINTS.has(key)) delete out[key]
    else out[key] = strip(out[key])
  }
  return out
}

export function hasShape (schema: TSchema, value: unknown): boolean {
  let shape = shapes.get(schema)
  if (shape === undefined) {
    shape = strip(schema) as TSchema
    shapes.set(schema, shape)
  }
  return Value.Check(shape, value)
}

// Schema and rule checks may both flag one key: the first (schema) message wins.
export function firstPerPath (problems: PathProblem[]): PathProblem[] {
  const byPath = new Map<string, PathProblem>()
  for (const p of problems) if (!byPath.has(p.path)) byPath.set(p.path, p)
  return [...byPath.values()]
}
