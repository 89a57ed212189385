import { isIP } from 'node:net'
import { Type, type Static } from '@sinclair/typebox'
import { NonEmpty, Strict, joinPath, withDefaults, type Defaulted, type Report } from '../../lib/config/kit.ts'

// `ipAccess` (gateway-wide and per service, SPEC "Edge options"): CIDR allow and deny
// lists; deny wins, an empty allow list allows all.
export const IpAccessSchema = Strict({
  allow: Type.Optional(Type.Array(NonEmpty, { default: [] })),
  deny: Type.Optional(Type.Array(NonEmpty, { default: [] })),
})

export type RawIpAccess = Static<typeof IpAccessSchema>

export interface IpAccessConfig {
  allow: string[]
  deny: string[]
}

// "10.0.0.0/8" or a bare address; a bare address means /32 (IPv4) or /128 (IPv6).
export function normalizeCidr (s: string): string | null {
  const parts = s.trim().split('/')
  if (parts.length > 2) return null
  const family = isIP(parts[0]!)
  if (family === 0) return null
  const max = family === 4 ? 32 : 128
  if (parts.length === 1) return `${parts[0]}/${max}`
  if (!/^\d{1,3}$/.test(parts[1]!) || Number(parts[1]) > max) return null
  return `${parts[0]}/${Number(parts[1])}`
}

export function resolveIpAccess (input: RawIpAccess, path: string, report: Report): IpAccessConfig {
  const raw = withDefaults(IpAccessSchema, input) as Defaulted<RawIpAccess, 'allow' | 'deny'>
  const list = (key: 'allow' | 'deny'): string[] => raw[key].map((entry, i) => {
    const cidr = normalizeCidr(entry)
    if (cidr === null) report(joinPath(joinPath(path, key), i), 'must be an IP address or CIDR (10.0.0.0/8, 2001:db8::/32)')
    return cidr ?? entry
  })
  return { allow: list('allow'), deny: list('deny') }
}
