import { Type, type Static } from '@sinclair/typebox'
import {
  Duration, NonEmpty, OneOf, Strict, durationMs, headerNames, joinPath, withDefaults, type Defaulted, type Report
} from '../../lib/config/kit.ts'
import { RateLimitPolicySchema, resolveRateLimitPolicy, type RateLimitPolicy } from '../rate-limit/schema.ts'
import { normalizeCidr } from '../ip-access/schema.ts'
import { resolveScopes } from '../auth/schema.ts'
import { canonicalHost } from './destination.ts'

// The `egress` section (SPEC "Egress: the forward proxy"): schema with its defaults,
// the resolved form the listener reads, and the resolver between the two.

export const DEFAULT_EGRESS_PORTS = [80, 443]

export const EgressAllowSchema = Strict({
  host: NonEmpty,
  ports: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 65535, errorMessage: 'must be a port number (1-65535)' }),
    { minItems: 1, errorMessage: 'must be a non-empty list of ports', default: DEFAULT_EGRESS_PORTS })),
  scopes: Type.Optional(Type.Array(NonEmpty, { default: [] })),
})

export const EgressSchema = Strict({
  host: Type.Optional(Type.String({ minLength: 1, errorMessage: 'must be a non-empty string', default: '127.0.0.1' })),
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, errorMessage: 'must be a port number (0-65535)', default: 3128 })),
  auth: Type.Optional(OneOf(['required', 'none'], { default: 'required' })),
  allow: Type.Optional(Type.Array(EgressAllowSchema, { default: [] })),
  privateNetworks: Type.Optional(OneOf(['deny', 'allow'], { default: 'deny' })),
  allowNetworks: Type.Optional(Type.Array(NonEmpty, { default: [] })),
  removeHeaders: Type.Optional(Type.Array(NonEmpty, { default: [] })),
  rateLimit: Type.Optional(RateLimitPolicySchema),
  timeouts: Type.Optional(Strict({
    connect: Type.Optional(Duration({ default: '5s' })),
    idle: Type.Optional(Duration({ default: '5m' })),
  }, { default: {} })),
})

export type RawEgress = Static<typeof EgressSchema>
type RawAllow = Static<typeof EgressAllowSchema>

export interface EgressAllowEntry {
  host: string // as written (the metrics' destination label)
  // Canonical: lower case, no trailing dot, IP literals in canonical form; for "*.x" the
  // suffix ".x" a name must end with (after at least one label).
  match: { exact: string } | { suffix: string }
  ports: number[]
  scopes: string[]
}

export interface EgressConfig {
  host: string
  port: number
  auth: 'required' | 'none'
  allow: EgressAllowEntry[]
  privateNetworks: 'deny' | 'allow'
  allowNetworks: string[] // normalised CIDRs
  removeHeaders: string[] // lower case
  rateLimit: RateLimitPolicy | null
  timeouts: { connectMs: number, idleMs: number }
}

function allowEntry (raw: RawAllow, path: string, report: Report): EgressAllowEntry {
  const r = withDefaults(EgressAllowSchema, raw) as Defaulted<RawAllow, 'ports' | 'scopes'>
  const wildcard = r.host.startsWith('*.')
  const name = canonicalHost(wildcard ? r.host.slice(2) : r.host)
  // "*" alone, "*.com.": a suffix must still name something; "a.*.b" is no pattern we match.
  if (name === null || name.includes('*') || (wildcard && name.includes(':'))) {
    report(joinPath(path, 'host'), 'must be a host name, "*." followed by a domain, or an IP address')
  }
  return {
    host: r.host,
    match: wildcard ? { suffix: `.${name ?? ''}` } : { exact: name ?? r.host },
    ports: [...new Set(r.ports)],
    scopes: resolveScopes(r.scopes, joinPath(path, 'scopes'), report),
  }
}

export function resolveEgress (input: RawEgress, path: string, report: Report): EgressConfig {
  const raw = withDefaults(EgressSchema, input) as Defaulted<RawEgress,
    'host' | 'port' | 'auth' | 'allow' | 'privateNetworks' | 'allowNetworks' | 'removeHeaders' | 'timeouts'>
  const t = raw.timeouts as Defaulted<NonNullable<RawEgress['timeouts']>, 'connect' | 'idle'>
  const allowNetworks = raw.allowNetworks.map((entry, i) => {
    const cidr = normalizeCidr(entry)
    if (cidr === null) report(joinPath(joinPath(path, 'allowNetworks'), i), 'must be an IP address or CIDR (10.20.0.0/16, fd00::/8)')
    return cidr ?? entry
  })
  return {
    host: raw.host,
    port: raw.port,
    auth: raw.auth,
    allow: raw.allow.map((entry, i) => allowEntry(entry, joinPath(joinPath(path, 'allow'), i), report)),
    privateNetworks: raw.privateNetworks,
    allowNetworks,
    removeHeaders: headerNames(raw.removeHeaders, joinPath(path, 'removeHeaders'), report),
    rateLimit: raw.rateLimit === undefined ? null : resolveRateLimitPolicy(raw.rateLimit, joinPath(path, 'rateLimit'), report),
    timeouts: {
      connectMs: durationMs(t.connect, joinPath(joinPath(path, 'timeouts'), 'connect'), report, true),
      idleMs: durationMs(t.idle, joinPath(joinPath(path, 'timeouts'), 'idle'), report, true),
    },
  }
}
