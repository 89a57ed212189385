import type { TSchema } from '@sinclair/typebox'
import { durationMs, joinPath, sizeBytes, withDefaults, type Defaulted, type Report } from '../../../lib/config/kit.ts'
import { resolvePath } from '../../../lib/config/files.ts'
import { hasShape } from './validate.ts'
import { resolveService } from './resolve-service.ts'
import { RateLimitSchema, resolveRateLimit } from '../../../plugins/rate-limit/schema.ts'
import { IpAccessSchema, normalizeCidr, resolveIpAccess } from '../../../plugins/ip-access/schema.ts'
import { CompressionSchema, resolveCompression } from '../../../plugins/compression/schema.ts'
import { resolveTracing, TracingSchema } from '../../../plugins/tracing/schema.ts'
import { RegistrySchema, resolveRegistry } from '../../../plugins/registry/schema.ts'
import { EgressSchema, resolveEgress } from '../../../plugins/egress/schema.ts'
import {
  AdminSchema, LoggingSchema,
  ServerSchema, ServiceSchema, TRUST_PROXY_HINT,
  type RawGateway, type RawService
} from './schema.ts'
import type { EgressConfig, GatewayConfig, ServerConfig, ServiceConfig } from './types.ts'
import { AuthSchema, resolveJwt } from '../../../plugins/auth/schema.ts'
import { cipherProblem, DEFAULT_TLS_PROTOCOL, effectiveCiphers, type TlsConfig } from '../tls/protocol-policy.ts'

// The main config's sections, each resolved when its shape (types, required keys)
// is right, so one bad section or value never hides the problems of another. Values
// may still break a constraint the schema has already reported: the caller keeps one
// problem per key path and returns no config when there is any.

type Raw<K extends keyof RawGateway> = NonNullable<RawGateway[K]>

export interface GatewayParts {
  config: GatewayConfig | null // null when any section was not schema-valid
  services: ServiceConfig[] // the valid ones, even when others are not
  servicesDir: string | null
  jwt: boolean | null // whether auth.jwt is configured; null = unknown (auth invalid)
}

interface Ctx {
  report: Report
  baseDir: string
  file: string | null
}

function valid<T> (schema: TSchema, v: unknown): v is T {
  return hasShape(schema, v)
}

function trustProxy (raw: Raw<'server'>['trustProxy'], report: Report): false | string[] {
  if (raw === undefined || raw === false || raw.length === 0) return false
  return raw.map((entry, i) => {
    const path = `server.trustProxy[${i}]`
    const cidr = normalizeCidr(entry)
    if (cidr === null) report(path, `must be an IP address or CIDR; ${TRUST_PROXY_HINT}`)
    // /0 trusts every peer, i.e. `true` in disguise: any client could spoof X-Forwarded-For.
    else if (cidr.endsWith('/0')) report(path, `${entry} trusts every client; ${TRUST_PROXY_HINT}`)
    return cidr ?? entry
  })
}

function tlsConfig (raw: NonNullable<Raw<'server'>['tls']>, ctx: Ctx): TlsConfig {
  const ciphers = raw.ciphers === undefined ? DEFAULT_TLS_PROTOCOL.ciphers : effectiveCiphers(raw.ciphers)
  const problem = raw.ciphers === undefined ? null : cipherProblem(ciphers)
  if (problem !== null) ctx.report('server.tls.ciphers', problem)
  return {
    cert: resolvePath(ctx.baseDir, raw.cert),
    key: resolvePath(ctx.baseDir, raw.key),
    minVersion: raw.minVersion ?? DEFAULT_TLS_PROTOCOL.minVersion,
    ciphers
  }
}

function server (input: Raw<'server'>, ctx: Ctx): ServerConfig {
  const { report } = ctx
  const raw = withDefaults(ServerSchema, input) as Defaulted<Raw<'server'>, 'host' | 'port' | 'trustProxy' | 'bodyLimit' | 'maxConnections' | 'timeouts' | 'http2'>
  const t = raw.timeouts as Defaulted<NonNullable<Raw<'server'>['timeouts']>, 'connect' | 'upstream' | 'keepAlive' | 'headers' | 'drain'>
  const timeout = (key: keyof typeof t, positive: boolean): number => durationMs(t[key], `server.timeouts.${key}`, report, positive)
  const tls = raw.tls === undefined ? null : tlsConfig(raw.tls, ctx)
  const port = raw.port
  if (raw.http2 && tls === null) report('server.http2', 'needs server.tls (HTTP/2 is offered through TLS ALPN)')
  if (raw.httpRedirect !== undefined) {
    if (tls === null) report('server.httpRedirect', 'needs server.tls (it redirects to https)')
    if (raw.httpRedirect.port === port && port !== 0) report('server.httpRedirect.port', 'must differ from server.port')
  }
  return {
    host: raw.host,
    port,
    trustProxy: trustProxy(raw.trustProxy, report),
    bodyLimit: sizeBytes(raw.bodyLimit, 'server.bodyLimit', report, true),
    maxConnections: raw.maxConnections,
    timeouts: {
      connectMs: timeout('connect', true),
      upstreamMs: timeout('upstream', true),
      keepAliveMs: timeout('keepAlive', false),
      headersMs: timeout('headers', true),
      drainMs: timeout('drain', false),
    },
    tls,
    http2: raw.http2,
    httpRedirect: raw.httpRedirect === undefined ? null : { port: raw.httpRedirect.port },
  }
}

// Rules of the egress section that need other sections: a token needs auth.jwt's keys,
// and its listener is a port of its own.
function egressProblems (egress: EgressConfig, others: { jwt: boolean, auth: boolean, server: ServerConfig, adminPort: number }, report: Report) {
  if (egress.auth === 'required' && !others.jwt && others.auth) {
    report('egress.auth', 'required needs auth.jwt (the keys that verify Proxy-Authorization tokens); or set auth: none')
  }
  if (egress.port !== 0 && (egress.port === others.server.port || egress.port === others.adminPort || egress.port === others.server.httpRedirect?.port)) {
    report('egress.port', 'must differ from server.port, admin.port and server.httpRedirect.port')
  }
}

// `value` is the normalised tree (see validate.ts), whose schema problems are reported.
export function resolveGateway (value: Record<string, unknown>, ctx: Ctx): GatewayParts {
  const { report } = ctx
  let sound = true
  const section = <T>(schema: TSchema, key: string): T | undefined => {
    const v = value[key]
    if (v === undefined || valid<T>(schema, v)) return v as T | undefined
    sound = false
    return undefined
  }
  const rawServer = section<Raw<'server'>>(ServerSchema, 'server') ?? {}
  const rawLogging = withDefaults(LoggingSchema, section<Raw<'logging'>>(LoggingSchema, 'logging') ?? {}) as Defaulted<Raw<'logging'>, 'level' | 'access'>
  const rawAdmin = withDefaults(AdminSchema, section<Raw<'admin'>>(AdminSchema, 'admin') ?? {}) as Defaulted<Raw<'admin'>, 'host' | 'port'>
  const rawAuth = section<Raw<'auth'>>(AuthSchema, 'auth')
  const rawRateLimit = section<Raw<'rateLimit'>>(RateLimitSchema, 'rateLimit')
  const rawIpAccess = section<Raw<'ipAccess'>>(IpAccessSchema, 'ipAccess')
  const rawCompression = section<Raw<'compression'>>(CompressionSchema, 'compression')
  const rawTracing = section<Raw<'tracing'>>(TracingSchema, 'tracing')
  const rawRegistry = section<Raw<'registry'>>(RegistrySchema, 'registry')
  const rawEgress = section<Raw<'egress'>>(EgressSchema, 'egress')
  const rawServicesDir = value.servicesDir
  if (rawServicesDir !== undefined && (typeof rawServicesDir !== 'string' || rawServicesDir === '')) sound = false

  const srv = server(rawServer, ctx)
  const adminPort = rawAdmin.port
  if (adminPort === srv.port && adminPort !== 0) report('admin.port', 'must differ from server.port')
  const jwtConfig = rawAuth?.jwt === undefined ? null : resolveJwt(rawAuth.jwt, 'auth.jwt', ctx)

  const services: ServiceConfig[] = []
  const rawServices = Array.isArray(value.services) ? value.services : []
  if (value.services !== undefined && !Array.isArray(value.services)) sound = false
  rawServices.forEach((s, i) => {
    if (!valid<RawService>(ServiceSchema, s)) {
      sound = false
      return
    }
    const source = ctx.file === null ? { source: 'config' as const } : { source: 'config' as const, file: ctx.file }
    services.push(resolveService(s, joinPath('services', i), { report, baseDir: ctx.baseDir }, source))
  })

  const servicesDir = typeof rawServicesDir === 'string' && rawServicesDir !== '' ? resolvePath(ctx.baseDir, rawServicesDir) : null
  // Resolved before the soundness check so their own problems are reported as well.
  const rateLimitConfig = rawRateLimit === undefined ? null : resolveRateLimit(rawRateLimit, 'rateLimit', report)
  const ipAccessConfig = rawIpAccess === undefined ? null : resolveIpAccess(rawIpAccess, 'ipAccess', report)
  const compressionConfig = rawCompression === undefined ? false : resolveCompression(rawCompression, 'compression', report)
  const tracingConfig = resolveTracing(rawTracing, 'tracing', report)
  const registryConfig = rawRegistry === undefined ? null : resolveRegistry(rawRegistry, 'registry', report)
  const egressConfig = rawEgress === undefined ? null : resolveEgress(rawEgress, 'egress', report)
  if (egressConfig !== null) egressProblems(egressConfig, { jwt: jwtConfig !== null, auth: rawAuth !== undefined || value.auth === undefined, server: srv, adminPort }, report)
  const parts = { services, servicesDir, jwt: rawAuth === undefined && value.auth !== undefined ? null : jwtConfig !== null }
  if (!sound) return { ...parts, config: null }
  return {
    ...parts,
    config: {
      file: ctx.file,
      server: srv,
      logging: { level: rawLogging.level, access: rawLogging.access },
      admin: {
        host: rawAdmin.host,
        port: adminPort,
        token: rawAdmin.token === undefined || rawAdmin.token === '' ? null : rawAdmin.token
      },
      servicesDir,
      auth: { jwt: jwtConfig },
      rateLimit: rateLimitConfig,
      ipAccess: ipAccessConfig,
      compression: compressionConfig,
      tracing: tracingConfig,
      registry: registryConfig,
      egress: egressConfig,
      services
    }
  }
}
