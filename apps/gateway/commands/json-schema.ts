import type { TSchema } from '@sinclair/typebox'
import { GatewaySchema, ServiceSchema } from '../config/index.ts'

// The config schema as a standalone JSON Schema (draft 2020-12) for editors and other
// validators, derived from the TypeBox schema `gatehouse check` validates with, so there
// is one source. The file a user edits is checked *before* env expansion and null
// dropping, which `check` does first, so the derived schema says what those steps allow:
// - `key:` with nothing after it (YAML null) is "not set" for every optional key;
// - wherever a scalar goes, a string with a `${VAR}` reference may stand (its value is
//   known only at run time; `check` sees it expanded, and coerced for number/boolean);
// - no string may carry a malformed reference (`${1X}`, an unclosed `${`).
// What a JSON Schema cannot say (cross-field rules, URLs, CIDRs, files) is listed in
// docs/configuration.md; there `check` is stricter.

export const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema'

// expand-env.ts's grammar: `$${` is a literal `${`, every other `${` opens a reference
// `${NAME}` or `${NAME:-default}` that must be closed.
const REF = String.raw`\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}`
const PIECE = String.raw`(?:\$\$\{|${REF}|[^$]|\$(?!\{))`
export const WELL_FORMED = `^${PIECE}*$`
const HAS_REFERENCE = `^${PIECE}*?${REF}${PIECE}*$`

const ENV_DEF = 'envReference'
const ENV_REF = { $ref: `#/$defs/${ENV_DEF}` }
const TEXT_DEF = 'text'
const TEXT_REF = `#/$defs/${TEXT_DEF}`

type Node = Record<string, unknown>

const isObject = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v)

// Does this (possibly union) node accept some non-object, non-array value?
function acceptsScalar (n: Node): boolean {
  if (Array.isArray(n.anyOf)) return (n.anyOf as Node[]).some(acceptsScalar)
  return n.type !== 'object' && n.type !== 'array'
}

// A string leaf (not a literal) may hold references, and they must be well formed.
function wellFormed (n: Node): Node {
  return n.type === 'string' && n.const === undefined ? { ...n, $ref: TEXT_REF } : n
}

// A string with no constraint of its own: a reference can only expand to a string it
// accepts, so it needs no alternative.
function plainString (n: Node): boolean {
  return Object.keys(n).every((k) => k === 'type' || k === 'default' || k === 'description') && n.type === 'string'
}

// Keys the editor shows on hover and completion belong on the outermost node.
function hoist (n: Node): { inner: Node, outer: Node } {
  const { default: def, errorMessage, description, ...inner } = n
  const outer: Node = {}
  const text = description ?? errorMessage
  if (text !== undefined) outer.description = text
  if (def !== undefined) outer.default = def
  return { inner, outer }
}

function convert (node: unknown): Node {
  if (!isObject(node)) return node as Node
  const { inner, outer } = hoist(node)
  if (inner.type === 'object' && isObject(inner.properties)) {
    const required = new Set((inner.required as string[] | undefined) ?? [])
    const properties: Node = {}
    for (const [key, child] of Object.entries(inner.properties)) {
      const c = convert(child)
      // An empty `key:` is dropped by check: fine for an optional key, "is required" otherwise.
      properties[key] = required.has(key) ? c : withNull(c)
    }
    return { ...outer, ...inner, properties }
  }
  if (inner.type === 'array' && inner.items !== undefined) return { ...outer, ...inner, items: convert(inner.items) }
  if (Array.isArray(inner.anyOf)) {
    const variants = (inner.anyOf as unknown[]).map((v) => hoist(v as Node).inner).map(convertVariant)
    const { anyOf: _drop, ...rest } = inner
    if (acceptsScalar(inner)) variants.push(ENV_REF)
    return { ...outer, ...rest, anyOf: variants }
  }
  if (plainString(inner)) return { ...outer, ...wellFormed(inner) }
  // A constrained scalar (pattern, range, literal, integer, boolean).
  return { ...outer, anyOf: [wellFormed(inner), ENV_REF] }
}

// Inside a union the env alternative is added once, at the union.
function convertVariant (v: Node): Node {
  if (v.type === 'object' || v.type === 'array') return convert(v)
  return wellFormed(v)
}

function withNull (n: Node): Node {
  const { description, default: def, ...rest } = n
  const outer: Node = {}
  if (description !== undefined) outer.description = description
  if (def !== undefined) outer.default = def
  if (Array.isArray(rest.anyOf) && Object.keys(rest).length === 1) {
    return { ...outer, ...rest, anyOf: [...(rest.anyOf as Node[]), { type: 'null' }] }
  }
  return { ...outer, anyOf: [rest, { type: 'null' }] }
}

// JSON.stringify drops TypeBox's symbol keys (Kind, Optional).
const converted = (schema: TSchema): Node => convert(JSON.parse(JSON.stringify(schema)))

// Each subtree equal to a definition becomes a $ref to it (the main file's services[]).
function useDefs (node: unknown, defs: Record<string, string>): unknown {
  if (Array.isArray(node)) return node.map((n) => useDefs(n, defs))
  if (!isObject(node)) return node
  for (const [name, text] of Object.entries(defs)) if (JSON.stringify(node) === text) return { $ref: `#/$defs/${name}` }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, useDefs(v, defs)]))
}

function document (schema: TSchema, meta: { title: string, description: string, nullRoot: boolean, defs?: Record<string, TSchema> }): Node {
  const defs = Object.fromEntries(Object.entries(meta.defs ?? {}).map(([name, s]) => [name, converted(s)]))
  const texts = Object.fromEntries(Object.entries(defs).map(([name, d]) => [name, JSON.stringify(d)]))
  const root = useDefs(converted(schema), texts) as Node
  return {
    $schema: DRAFT_2020_12,
    title: meta.title,
    description: meta.description,
    ...root,
    // An empty main file is all defaults (null after YAML parsing).
    ...(meta.nullRoot ? { type: ['object', 'null'] } : {}),
    $defs: {
      ...defs,
      [TEXT_DEF]: { type: 'string', pattern: WELL_FORMED },
      [ENV_DEF]: {
        description: 'An environment reference, ${VAR} or ${VAR:-default}, expanded before the config is checked',
        type: 'string',
        pattern: HAS_REFERENCE,
      },
    },
  }
}

// `gatehouse schema`: the main config file (a `tracing` or other section joins
// GatewaySchema in config/schema.ts and appears here without more code).
export function gatewayJsonSchema (): Node {
  return document(GatewaySchema, {
    title: 'Gatehouse gateway configuration',
    description: 'The main config file (gateway.yaml); see docs/configuration.md',
    nullRoot: true,
    defs: { service: ServiceSchema },
  })
}

// `gatehouse schema --service`: one servicesDir file (or an admin API body).
export function serviceJsonSchema (): Node {
  return document(ServiceSchema, {
    title: 'Gatehouse service definition',
    description: 'One service, as a servicesDir/*.yaml file or a PUT /admin/services/:name body',
    nullRoot: false,
  })
}
