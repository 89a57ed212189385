import { basename, dirname } from 'node:path'
import { joinPath } from '../../../lib/config/kit.ts'
import { defaultRateLimit } from '../../../plugins/rate-limit/schema.ts'
import type { ConfigProblem } from '../../../lib/config-types.ts'
import type { RateLimitConfig, ServiceConfig } from './types.ts'

// Rules about the whole set of services, wherever each came from (main file,
// servicesDir, admin API). Used at load time and by every reload.

// `services.d/orders.yaml` for a directory entry: enough to find it, short enough to read.
export function servicesDirLabel (file: string): string {
  return `${basename(dirname(file))}/${basename(file)}`
}

function locate (services: ServiceConfig[], index: number): { file: string, path: (key: string) => string } {
  const s = services[index]
  if (s.source === 'config') {
    const i = services.slice(0, index).filter(x => x.source === 'config').length
    return { file: s.file === undefined ? '<inline>' : basename(s.file), path: key => joinPath(joinPath('services', i), key) }
  }
  if (s.source === 'servicesDir' && s.file !== undefined) return { file: servicesDirLabel(s.file), path: key => key }
  return { file: s.source === 'registry' ? '<registry>' : '<admin>', path: key => key }
}

function describe (services: ServiceConfig[], index: number, key: string): string {
  const where = locate(services, index)
  return `${where.file}: ${where.path(key)}`
}

// Names and prefixes are unique across the set; the later entry (e.g. the servicesDir
// file rather than the main config) is the one reported. With `jwt` given (whether
// auth.jwt is configured), services and routes that need a token are checked too.
export function checkServiceSet (services: ServiceConfig[], opts: { jwt?: boolean } = {}): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const names = new Map<string, number>()
  const prefixes = new Map<string, number>()
  services.forEach((s, i) => {
    const where = locate(services, i)
    const firstName = names.get(s.name)
    if (firstName === undefined) names.set(s.name, i)
    else problems.push({ file: where.file, path: where.path('name'), message: `duplicate service name "${s.name}" (also ${describe(services, firstName, 'name')})` })
    const firstPrefix = prefixes.get(s.prefix)
    if (firstPrefix === undefined) prefixes.set(s.prefix, i)
    else problems.push({ file: where.file, path: where.path('prefix'), message: `duplicate prefix "${s.prefix}" (also service "${services[firstPrefix].name}", ${describe(services, firstPrefix, 'prefix')})` })
    if (opts.jwt === false) {
      // A service that requires a token with no way to verify one would answer 401 to everything.
      if (s.auth !== 'none') problems.push({ file: where.file, path: where.path('auth'), message: `"${s.auth}" needs auth.jwt, which is not configured (auth defaults to "required"; set auth: none for a public service)` })
      s.routes.forEach((r, j) => {
        if (r.auth !== undefined && r.auth !== 'none') {
          problems.push({ file: where.file, path: where.path(`routes[${j}].auth`), message: `"${r.auth}" needs auth.jwt, which is not configured` })
        }
      })
    }
  })
  return problems
}

// SPEC: no rateLimit section = no limits, yet a service may still set its own limit.
// Then it is counted in memory with no default for the others.
export function impliedRateLimit (rateLimit: RateLimitConfig | null, services: ServiceConfig[]): RateLimitConfig | null {
  if (rateLimit !== null) return rateLimit
  const used = services.some(s => (s.rateLimit !== null && s.rateLimit !== false) ||
    s.routes.some(r => r.rateLimit !== undefined && r.rateLimit !== false))
  if (!used) return null
  return defaultRateLimit()
}
