import { basename, dirname, join } from 'node:path'
import { stringify } from 'yaml'
import type { GatewayContext } from '../context.ts'
import type { ConfigProblem } from '../../../lib/config-types.ts'
import type { GatewayConfig, ServiceConfig } from '../config/types.ts'
import { checkServiceSet, expandString, parseServiceDefinition } from '../config/index.ts'
import { removeFile, stageFile, type StagedFile } from './atomic-file.ts'
import type { ConfigApplier, ServiceSources } from './applier.ts'
import { composeSources } from './applier.ts'
import type { RegistryProvider } from './registry-provider.ts'

// The admin provider: `PUT`/`DELETE /admin/services/:name`. Its rules (the main file's
// services are read-only, names and prefixes unique across every source, no `${VAR}` in
// a body) are checked before the change reaches the applier; with a servicesDir the
// change is written back there (the file provider then sees its own write, a no-op),
// without one it lives in memory (`source: admin`). With a cluster registry the change
// goes to Redis instead (registry-provider.ts), and the files of this instance are as
// read-only as the main file: every instance has its own copy of them.

export type ChangeOutcome =
  | { ok: true, created: boolean }
  | { ok: false, reason: 'invalid', errors: string[] }
  | { ok: false, reason: 'conflict' | 'not-found' | 'failed' | 'unavailable', message: string }

const ADMIN_LABEL = '<admin>'

function isMapping (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function byFile (a: ServiceConfig, b: ServiceConfig): number {
  const x = a.file ?? ''
  const y = b.file ?? ''
  return x < y ? -1 : x > y ? 1 : 0
}

// API answers name key paths relative to the body: `upstreams[0]: must be an http(s) URL`.
function relative (p: ConfigProblem): string {
  return p.path === '' ? p.message : `${p.path}: ${p.message}`
}

// An admin body is written to servicesDir as it came; a `${VAR}` in it would be expanded
// from the gateway's environment when the file is read back, so an API caller could
// read a secret back through GET /admin/services. `$${` (a literal) is fine.
function envReferences (value: unknown, path: string, out: string[]): string[] {
  if (typeof value === 'string') {
    const r = expandString(value, {})
    if ('error' in r) out.push(`${path}: ${r.error}`)
    else if (r.expanded) out.push(`${path}: environment references (\${...}) are not expanded in admin API bodies`)
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => envReferences(v, `${path}[${i}]`, out))
  } else if (isMapping(value)) {
    for (const [k, v] of Object.entries(value)) envReferences(v, path === '' ? k : `${path}.${k}`, out)
  }
  return out
}

function toYaml (name: string, body: Record<string, unknown>): string {
  return `# Written by the Gatehouse admin API (PUT /admin/services/${name}).\n${stringify(body)}`
}

function baseDirOf (config: GatewayConfig): string {
  return config.file === null ? process.cwd() : dirname(config.file)
}

const FAILED_BUILD = 'The new routing table could not be built; the running config is unchanged'

export class AdminProvider {
  readonly #ctx: GatewayContext
  readonly #applier: ConfigApplier
  readonly #registry: RegistryProvider | null

  constructor (opts: { ctx: GatewayContext, applier: ConfigApplier, registry: RegistryProvider | null }) {
    this.#ctx = opts.ctx
    this.#applier = opts.applier
    this.#registry = opts.registry
  }

  put (name: string, raw: unknown): Promise<ChangeOutcome> {
    return this.#applier.serial(() => this.#put(name, raw))
  }

  delete (name: string): Promise<ChangeOutcome> {
    return this.#applier.serial(() => this.#delete(name))
  }

  async #put (name: string, raw: unknown): Promise<ChangeOutcome> {
    if (this.#applier.closed) return { ok: false, reason: 'failed', message: 'The gateway is shutting down' }
    const current = this.#applier.current()
    const all = composeSources(current)
    const existing = all.find((s) => s.name === name)
    if (existing?.source === 'config') {
      return { ok: false, reason: 'conflict', message: `Service "${name}" is defined in the main config file; change it there` }
    }
    if (!isMapping(raw)) return { ok: false, reason: 'invalid', errors: ['must be a mapping describing one service (JSON or YAML)'] }
    if (raw.name !== undefined && raw.name !== name) {
      return { ok: false, reason: 'invalid', errors: [`name: must be "${name}" (the name in the path) or absent`] }
    }
    const { name: _ignored, ...rest } = raw
    const body: Record<string, unknown> = { name, ...rest }
    const references = envReferences(body, '', [])
    if (references.length > 0) return { ok: false, reason: 'invalid', errors: references }
    if (this.#registry !== null) {
      if (existing?.source === 'servicesDir') return this.#localFile(existing, 'change')
      return this.#registry.put(name, body)
    }

    const dir = this.#ctx.config.servicesDir
    // A service replaced keeps its file, whatever that file is called.
    const file = dir === null ? null : existing?.source === 'servicesDir' && existing.file !== undefined ? existing.file : join(dir, `${name}.yaml`)
    const parsed = file === null
      ? parseServiceDefinition(body, { file: ADMIN_LABEL, source: 'admin', baseDir: baseDirOf(this.#ctx.config), env: {}, label: ADMIN_LABEL })
      : parseServiceDefinition(body, { file, source: 'servicesDir', baseDir: dir!, env: {}, label: ADMIN_LABEL })
    // The name was checked against [a-z0-9-]+ here, before `file` is ever written.
    const service = parsed.service
    if (service === null) return { ok: false, reason: 'invalid', errors: parsed.problems.map(relative) }

    const clash = all.find((s) => s.name !== name && s.prefix === service.prefix)
    if (clash !== undefined) {
      return { ok: false, reason: 'conflict', message: `Prefix "${service.prefix}" is already used by service "${clash.name}"` }
    }
    const holder = file === null ? undefined : current.servicesDir.find((s) => s.file === file && s.name !== name)
    if (holder !== undefined) {
      return { ok: false, reason: 'conflict', message: `${basename(file!)} already defines service "${holder.name}"` }
    }

    const keep = (s: ServiceConfig) => s !== existing
    const admin = current.admin.filter(keep)
    if (file === null) {
      const at = existing === undefined ? -1 : current.admin.indexOf(existing)
      admin.splice(at === -1 ? admin.length : at, 0, service)
    }
    const next: ServiceSources = {
      ...current,
      servicesDir: file === null ? current.servicesDir.filter(keep) : [...current.servicesDir.filter(keep), service].sort(byFile),
      admin,
    }
    const setProblems = checkServiceSet(composeSources(next), { jwt: this.#ctx.config.auth.jwt !== null })
    if (setProblems.length > 0) return { ok: false, reason: 'invalid', errors: setProblems.map(relative) }

    let staged: StagedFile | null = null
    if (file !== null) {
      try {
        staged = await stageFile(file, toYaml(name, body))
      } catch (err) {
        return this.#writeFailed(`cannot write ${basename(file)}`, err)
      }
    }
    const event = await this.#applier.commit('admin', next)
    if (event.result === 'failure') {
      await staged?.discard()
      return { ok: false, reason: 'failed', message: FAILED_BUILD }
    }
    if (staged !== null) {
      try {
        await staged.commit()
      } catch (err) {
        await staged.discard()
        await this.#applier.commit('admin', current)
        return this.#writeFailed(`cannot write ${basename(file!)}`, err)
      }
    }
    return { ok: true, created: existing === undefined }
  }

  async #delete (name: string): Promise<ChangeOutcome> {
    if (this.#applier.closed) return { ok: false, reason: 'failed', message: 'The gateway is shutting down' }
    const current = this.#applier.current()
    const existing = composeSources(current).find((s) => s.name === name)
    // With a registry, Redis says whether the name exists (this copy may be behind).
    if (existing === undefined && this.#registry !== null) return this.#registry.delete(name)
    if (existing === undefined) return { ok: false, reason: 'not-found', message: `No service named "${name}"` }
    if (existing.source === 'config') {
      return { ok: false, reason: 'conflict', message: `Service "${name}" is defined in the main config file; remove it there` }
    }
    if (this.#registry !== null) {
      if (existing.source === 'servicesDir') return this.#localFile(existing, 'remove')
      return this.#registry.delete(name)
    }
    const keep = (s: ServiceConfig) => s !== existing
    const event = await this.#applier.commit('admin', { ...current, servicesDir: current.servicesDir.filter(keep), admin: current.admin.filter(keep) })
    if (event.result === 'failure') return { ok: false, reason: 'failed', message: FAILED_BUILD }
    if (existing.source === 'servicesDir' && existing.file !== undefined) {
      try {
        await removeFile(existing.file)
      } catch (err) {
        // The file would bring the service back on the next reload: undo.
        await this.#applier.commit('admin', current)
        return this.#writeFailed(`cannot remove ${basename(existing.file)}`, err)
      }
    }
    return { ok: true, created: false }
  }

  #localFile (existing: ServiceConfig, verb: 'change' | 'remove'): ChangeOutcome {
    const where = existing.file === undefined ? 'servicesDir' : `servicesDir (${basename(existing.file)})`
    return { ok: false, reason: 'conflict', message: `Service "${existing.name}" is defined in ${where} of each instance; ${verb} it there` }
  }

  #writeFailed (what: string, err: unknown): ChangeOutcome {
    this.#ctx.logger.error({ err }, `admin API: ${what}; the running config is unchanged`)
    return { ok: false, reason: 'failed', message: `The service could not be saved (${what}); the running config is unchanged` }
  }
}
