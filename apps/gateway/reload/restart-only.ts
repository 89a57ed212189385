import { defaultRateLimit } from '../../../plugins/rate-limit/schema.ts'
import type { GatewayConfig, RateLimitConfig } from '../config/types.ts'

// What a reload of the main file may change in a running process. Live: services, the
// servicesDir path, the admin token, the TLS certificate files, egress's allow-list,
// removeHeaders and rateLimit, and what each generation reads when it is built
// (log level, access log, body limit, ipAccess, compression), so a change there builds
// a new generation even when no service changed. Restart-only: what is read once at
// start-up by a part that lives as long as the process (the listeners, the upstream
// agent, the JWT key source, the rate-limit store, the tracer, ctx.isTrustedPeer): a change there is
// logged and ignored until a restart, instead of being half applied.

export interface RestartOnlyChanges {
  // server.host/port, admin.host/port: the sockets are already bound.
  listen: string[]
  other: string[]
}

const LISTEN_KEYS = [
  ['server.host', (c: GatewayConfig) => c.server.host],
  ['server.port', (c: GatewayConfig) => c.server.port],
  ['admin.host', (c: GatewayConfig) => c.admin.host],
  ['admin.port', (c: GatewayConfig) => c.admin.port],
  ['egress.host', (c: GatewayConfig) => c.egress?.host],
  ['egress.port', (c: GatewayConfig) => c.egress?.port],
] as const

const IMPLIED_RATE_LIMIT: RateLimitConfig = defaultRateLimit()

const OTHER_KEYS = [
  ['server.trustProxy', (c: GatewayConfig) => c.server.trustProxy],
  ['server.maxConnections', (c: GatewayConfig) => c.server.maxConnections],
  ['server.timeouts', (c: GatewayConfig) => c.server.timeouts],
  // TLS on or off is another kind of listener; new cert/key paths are live (see below).
  ['server.tls', (c: GatewayConfig) => c.server.tls !== null],
  ['server.http2', (c: GatewayConfig) => c.server.http2],
  ['server.httpRedirect', (c: GatewayConfig) => c.server.httpRedirect],
  ['auth', (c: GatewayConfig) => c.auth],
  // No rateLimit section with a service that sets its own limit resolves to the implied
  // in-memory section; that is not a change of the section.
  ['rateLimit', (c: GatewayConfig) => c.rateLimit ?? IMPLIED_RATE_LIMIT],
  // The span exporter and its queue live as long as the process.
  ['tracing', (c: GatewayConfig) => c.tracing],
  // The registry's connections and subscription live as long as the process.
  ['registry', (c: GatewayConfig) => c.registry],
  // The egress listener exists or not; of its section only allow, removeHeaders and
  // rateLimit are live (SPEC).
  ['egress', (c: GatewayConfig) => c.egress !== null],
  ['egress.auth', (c: GatewayConfig) => c.egress?.auth],
  ['egress.privateNetworks', (c: GatewayConfig) => c.egress?.privateNetworks],
  ['egress.allowNetworks', (c: GatewayConfig) => c.egress?.allowNetworks],
  ['egress.timeouts', (c: GatewayConfig) => c.egress?.timeouts],
] as const

// Read by plugins when a generation is built (never per request from ctx.config).
const GENERATION_KEYS = [
  (c: GatewayConfig) => c.logging,
  (c: GatewayConfig) => c.server.bodyLimit,
  (c: GatewayConfig) => c.ipAccess,
  (c: GatewayConfig) => c.compression,
  // Not read by a generation, but a change of egress's live keys is a change applied
  // (reported as a successful reload, not as "unchanged").
  (c: GatewayConfig) => c.egress === null ? null : [c.egress.allow, c.egress.removeHeaders, c.egress.rateLimit],
] as const

function differs (a: unknown, b: unknown): boolean {
  return JSON.stringify(a) !== JSON.stringify(b)
}

export function restartOnlyChanges (running: GatewayConfig, loaded: GatewayConfig): RestartOnlyChanges {
  return {
    listen: LISTEN_KEYS.filter(([, get]) => differs(get(running), get(loaded))).map(([key]) => key),
    other: OTHER_KEYS.filter(([, get]) => differs(get(running), get(loaded))).map(([key]) => key),
  }
}

// Whether the live settings that generations read changed: then a new generation is
// built even if every service is the same.
export function generationSettingsChanged (running: GatewayConfig, loaded: GatewayConfig): boolean {
  return GENERATION_KEYS.some((get) => differs(get(running), get(loaded)))
}

// The running config with the live settings of a freshly loaded file.
export function withLiveSettings (running: GatewayConfig, loaded: GatewayConfig): GatewayConfig {
  return {
    ...running,
    servicesDir: loaded.servicesDir,
    logging: loaded.logging,
    admin: { ...running.admin, token: loaded.admin.token },
    // The certificate reloader (apps/gateway/tls) re-reads server.tls after every SIGHUP.
    server: { ...running.server, bodyLimit: loaded.server.bodyLimit, tls: running.server.tls === null ? null : loaded.server.tls ?? running.server.tls },
    ipAccess: loaded.ipAccess,
    compression: loaded.compression,
    // The egress port reads its section per request.
    egress: running.egress === null || loaded.egress === null
      ? running.egress
      : { ...running.egress, allow: loaded.egress.allow, removeHeaders: loaded.egress.removeHeaders, rateLimit: loaded.egress.rateLimit },
  }
}
