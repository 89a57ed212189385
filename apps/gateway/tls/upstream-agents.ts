import { createHash } from 'node:crypto'
import { Agent } from 'undici'
import type { TimeoutsConfig } from '../config/types.ts'
import type { UpstreamTlsConfig } from '../../../lib/config-types.ts'

// Upstream connection pools. One shared undici Agent serves every service whose
// upstreams are http:// or https:// with the system CAs. A service with `upstreamTls`
// gets Agents of its own (one per upstream, on its UpstreamState): a pool that trusts a
// private CA, or trusts anything (`rejectUnauthorized: false`), must never hand its
// sockets to another service that happens to call the same origin.

// Upstream sockets idle out before a Node upstream's default 5 s keep-alive, so a reused
// socket is never one the upstream is about to close under us.
export function upstreamAgentOptions (t: TimeoutsConfig, tls: UpstreamTlsConfig | null = null): Agent.Options {
  return {
    connect: tls === null
      ? { timeout: t.connectMs }
      : { timeout: t.connectMs, rejectUnauthorized: tls.rejectUnauthorized, ...(tls.ca !== undefined ? { ca: tls.ca } : {}) },
    keepAliveTimeout: Math.min(4000, t.keepAliveMs),
    keepAliveMaxTimeout: Math.min(4000, t.keepAliveMs),
    headersTimeout: t.upstreamMs,
    bodyTimeout: t.upstreamMs,
  }
}

export function createUpstreamAgent (t: TimeoutsConfig, tls: UpstreamTlsConfig): Agent {
  return new Agent(upstreamAgentOptions(t, tls))
}

// Part of the upstream state key: new TLS settings make a new state (and a new Agent),
// so a state's Agent always matches the settings it was made for.
export function upstreamTlsKey (tls: UpstreamTlsConfig | null): string {
  if (tls === null) return ''
  return createHash('sha256').update(JSON.stringify(tls)).digest('base64url').slice(0, 16)
}
