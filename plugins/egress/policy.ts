import type { EgressAllowEntry, EgressConfig } from './schema.ts'
import { compileAddressPolicy, type AddressPolicy } from './addresses.ts'
import type { Destination } from './destination.ts'

// The destination policy of one egress config, compiled once per config (SIGHUP swaps
// in a new one; open tunnels keep the policy they were admitted under).

export interface CompiledEgressPolicy {
  config: EgressConfig
  // The first allow entry whose host and ports take this destination, or null (default deny).
  match: (dest: Destination) => EgressAllowEntry | null
  addresses: AddressPolicy
  removeHeaders: ReadonlySet<string>
}

function hostMatches (entry: EgressAllowEntry, dest: Destination): boolean {
  const m = entry.match
  const host = dest.host
  if ('exact' in m) return m.exact === host
  // A suffix needs one or more labels before it ("*.stripe.com" is not stripe.com) and
  // names only names: no IP literal ends in a domain.
  return dest.ip === 0 && host.length > m.suffix.length && host.endsWith(m.suffix)
}

export function compileEgressPolicy (config: EgressConfig): CompiledEgressPolicy {
  const allow = config.allow
  return {
    config,
    match (dest) {
      for (let i = 0; i < allow.length; i++) {
        const entry = allow[i]!
        if (entry.ports.includes(dest.port) && hostMatches(entry, dest)) return entry
      }
      return null
    },
    addresses: compileAddressPolicy(config.privateNetworks, config.allowNetworks),
    removeHeaders: new Set(config.removeHeaders),
  }
}
