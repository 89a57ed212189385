import { EventEmitter } from 'node:events'
import { basename, dirname, join } from 'node:path'
import { stringify } from 'yaml'
import type { GatewayContext } from '../context.ts'
import type { ConfigProblem } from '../../../lib/config-types.ts'
import type { GatewayConfig, ServiceConfig } from '../config/types.ts'
import {
  checkServiceSet, expandString, formatProblem, loadConfig, loadServicesDir, parseServiceDefinition, type Env,
} from '../config/index.ts'
import { generationSettingsChanged, restartOnlyChanges, withLiveSettings } from './restart-only.ts'
import { watchDir, type DirWatch } from './watch-dir.ts'
import { removeFile, stageFile, type StagedFile } from './atomic-file.ts'

// Every way the service set changes (servicesDir watch, SIGHUP, admin API) goes through
// here, one change at a time: read and validate aside, then hand the whole new set to
// gateway.applyServices, which builds the next generation and swaps it in. Anything
// invalid is rejected whole and the running generation keeps serving.

export type ReloadTrigger = 'watch' | 'sighup' | 'admin' | 'manual'

export interface ReloadEvent {
  trigger: ReloadTrigger
  // unchanged: the files say what is already running (e.g. the watcher seeing the
  // admin API's own write); nothing is rebuilt.
  result: 'success' | 'failure' | 'unchanged'
  problems: ConfigProblem[]
  added: string[]
  removed: string[]
  changed: string[]
}

export type ChangeOutcome =
  | { ok: true, created: boolean }
  | { ok: false, reason: 'invalid', errors: string[] }
  | { ok: false, reason: 'conflict' | 'not-found' | 'failed', message: string }

export interface ReloaderOptions {
  ctx: GatewayContext
  applyServices: (services: ServiceConfig[]) => Promise<void>
  env?: Env
  debounceMs?: number
}

// Where each running service came from; the running set is always main + dir + memory.
interface ServiceSet {
  main: ServiceConfig[] // the main config file (read-only through the API)
  dir: ServiceConfig[] // servicesDir, in file-name order as the loader reads them
  memory: ServiceConfig[] // admin API without a servicesDir
}

const ADMIN_LABEL = '<admin>'

function isMapping (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function compose (set: ServiceSet): ServiceConfig[] {
  return [...set.main, ...set.dir, ...set.memory]
}

function byFile (a: ServiceConfig, b: ServiceConfig): number {
  const x = a.file ?? ''
  const y = b.file ?? ''
  return x < y ? -1 : x > y ? 1 : 0
}

function diffServices (before: ServiceConfig[], after: ServiceConfig[]) {
  const old = new Map(before.map((s) => [s.name, JSON.stringify(s)]))
  const added: string[] = []
  const changed: string[] = []
  for (const s of after) {
    const was = old.get(s.name)
    if (was === undefined) added.push(s.name)
    else if (was !== JSON.stringify(s)) changed.push(s.name)
    old.delete(s.name)
  }
  return { added, removed: [...old.keys()], changed }
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

export class Reloader extends EventEmitter {
  readonly #ctx: GatewayContext
  readonly #apply: (services: ServiceConfig[]) => Promise<void>
  readonly #env: Env
  readonly #debounceMs: number | undefined
  #queue: Promise<unknown> = Promise.resolve()
  #watch: DirWatch | null = null
  #watching = false
  #dirReloadQueued = false
  #closed = false

  constructor (opts: ReloaderOptions) {
    super()
    this.#ctx = opts.ctx
    this.#apply = opts.applyServices
    this.#env = opts.env ?? process.env
    this.#debounceMs = opts.debounceMs
  }

  // SIGHUP: the main file and servicesDir, as at start-up.
  reload (trigger: ReloadTrigger = 'manual'): Promise<ReloadEvent> {
    return this.#serial(() => this.#reloadAll(trigger))
  }

  // The watcher's reload: servicesDir only, the main file's services as they run.
  reloadServicesDir (trigger: ReloadTrigger = 'manual'): Promise<ReloadEvent> {
    return this.#serial(() => this.#reloadDir(trigger))
  }

  putService (name: string, raw: unknown): Promise<ChangeOutcome> {
    return this.#serial(() => this.#put(name, raw))
  }

  deleteService (name: string): Promise<ChangeOutcome> {
    return this.#serial(() => this.#delete(name))
  }

  // Start watching servicesDir (no-op without one). server.ts calls it for the real
  // process; tests call it when they need the watcher.
  watch (): void {
    this.#watching = true
    this.#rearm()
  }

  // Stops the watcher and waits for a reload in progress, so nothing is built after
  // the gateway closes.
  async close (): Promise<void> {
    this.#closed = true
    this.#watch?.close()
    this.#watch = null
    await this.#queue
  }

  #serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn)
    this.#queue = run.catch(() => {})
    return run
  }

  #current (): ServiceSet {
    const all = this.#ctx.config.services
    return {
      main: all.filter((s) => s.source === 'config'),
      dir: all.filter((s) => s.source === 'servicesDir'),
      memory: all.filter((s) => s.source === 'admin'),
    }
  }

  #rearm () {
    this.#watch?.close()
    this.#watch = null
    const dir = this.#ctx.config.servicesDir
    if (!this.#watching || this.#closed || dir === null) return
    this.#watch = watchDir(dir, () => this.#onDirChange(), {
      debounceMs: this.#debounceMs,
      onError: (err) => this.#ctx.logger.warn({ err, servicesDir: dir }, 'servicesDir watch failed; watching it again in 1 s'),
    })
  }

  #onDirChange () {
    // One queued re-read covers every event that arrives before it starts.
    if (this.#dirReloadQueued) return
    this.#dirReloadQueued = true
    void this.#serial(() => {
      this.#dirReloadQueued = false
      return this.#reloadDir('watch')
    })
  }

  async #reloadAll (trigger: ReloadTrigger): Promise<ReloadEvent> {
    const file = this.#ctx.config.file
    if (file === null) return this.#reloadDir(trigger)
    if (this.#closed) return this.#event(trigger, 'unchanged')
    let loaded: Awaited<ReturnType<typeof loadConfig>>
    try {
      loaded = await loadConfig(file, this.#env)
    } catch (err) {
      return this.#fail(trigger, [{ file: basename(file), path: '', message: `cannot be loaded: ${(err as Error).message}` }])
    }
    const config = loaded.config
    if (config === null) return this.#fail(trigger, loaded.problems)
    const { logger } = this.#ctx
    const restart = restartOnlyChanges(this.#ctx.config, config)
    if (restart.listen.length > 0) {
      logger.warn({ keys: restart.listen }, `listen address change needs a restart; ignored: ${restart.listen.join(', ')}`)
    }
    if (restart.other.length > 0) {
      logger.warn({ keys: restart.other }, `config change needs a restart; ignored until then: ${restart.other.join(', ')}`)
    }
    const next: ServiceSet = {
      main: config.services.filter((s) => s.source === 'config'),
      dir: config.services.filter((s) => s.source === 'servicesDir'),
      memory: this.#current().memory,
    }
    const dirBefore = this.#ctx.config.servicesDir
    // Live settings are in place while the next generation is built (its plugins read
    // them then), and put back if the change is rejected.
    const before = { config: this.#ctx.config, level: logger.level }
    const rebuild = generationSettingsChanged(before.config, config)
    this.#ctx.config = withLiveSettings(before.config, config)
    logger.level = config.logging.level
    const event = await this.#commit(trigger, next, rebuild)
    if (event.result === 'failure') {
      this.#ctx.config = { ...before.config, rateLimit: this.#ctx.config.rateLimit }
      logger.level = before.level
    }
    // Also re-arms a watch lost with a replaced directory.
    if (event.result !== 'failure' || dirBefore !== this.#ctx.config.servicesDir) this.#rearm()
    return event
  }

  async #reloadDir (trigger: ReloadTrigger): Promise<ReloadEvent> {
    const dir = this.#ctx.config.servicesDir
    if (this.#closed) return this.#event(trigger, 'unchanged')
    const current = this.#current()
    if (dir === null) return this.#commit(trigger, current)
    let loaded: Awaited<ReturnType<typeof loadServicesDir>>
    try {
      loaded = await loadServicesDir(dir, this.#env)
    } catch (err) {
      return this.#fail(trigger, [{ file: basename(dir), path: '', message: `cannot be loaded: ${(err as Error).message}` }])
    }
    if (loaded.problems.length > 0) return this.#fail(trigger, loaded.problems)
    return this.#commit(trigger, { ...current, dir: loaded.services })
  }

  async #put (name: string, raw: unknown): Promise<ChangeOutcome> {
    if (this.#closed) return { ok: false, reason: 'failed', message: 'The gateway is shutting down' }
    const current = this.#current()
    const all = compose(current)
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
    const holder = file === null ? undefined : current.dir.find((s) => s.file === file && s.name !== name)
    if (holder !== undefined) {
      return { ok: false, reason: 'conflict', message: `${basename(file!)} already defines service "${holder.name}"` }
    }

    const keep = (s: ServiceConfig) => s !== existing
    const memory = current.memory.filter(keep)
    if (file === null) {
      const at = existing === undefined ? -1 : current.memory.indexOf(existing)
      memory.splice(at === -1 ? memory.length : at, 0, service)
    }
    const next: ServiceSet = {
      main: current.main,
      dir: file === null ? current.dir.filter(keep) : [...current.dir.filter(keep), service].sort(byFile),
      memory,
    }
    const setProblems = checkServiceSet(compose(next), { jwt: this.#ctx.config.auth.jwt !== null })
    if (setProblems.length > 0) return { ok: false, reason: 'invalid', errors: setProblems.map(relative) }

    let staged: StagedFile | null = null
    if (file !== null) {
      try {
        staged = await stageFile(file, toYaml(name, body))
      } catch (err) {
        return this.#writeFailed(`cannot write ${basename(file)}`, err)
      }
    }
    const event = await this.#commit('admin', next)
    if (event.result === 'failure') {
      await staged?.discard()
      return { ok: false, reason: 'failed', message: 'The new routing table could not be built; the running config is unchanged' }
    }
    if (staged !== null) {
      try {
        await staged.commit()
      } catch (err) {
        await staged.discard()
        await this.#commit('admin', current)
        return this.#writeFailed(`cannot write ${basename(file!)}`, err)
      }
    }
    return { ok: true, created: existing === undefined }
  }

  async #delete (name: string): Promise<ChangeOutcome> {
    if (this.#closed) return { ok: false, reason: 'failed', message: 'The gateway is shutting down' }
    const current = this.#current()
    const existing = compose(current).find((s) => s.name === name)
    if (existing === undefined) return { ok: false, reason: 'not-found', message: `No service named "${name}"` }
    if (existing.source === 'config') {
      return { ok: false, reason: 'conflict', message: `Service "${name}" is defined in the main config file; remove it there` }
    }
    const keep = (s: ServiceConfig) => s !== existing
    const event = await this.#commit('admin', { main: current.main, dir: current.dir.filter(keep), memory: current.memory.filter(keep) })
    if (event.result === 'failure') {
      return { ok: false, reason: 'failed', message: 'The new routing table could not be built; the running config is unchanged' }
    }
    if (existing.source === 'servicesDir' && existing.file !== undefined) {
      try {
        await removeFile(existing.file)
      } catch (err) {
        // The file would bring the service back on the next reload: undo.
        await this.#commit('admin', current)
        return this.#writeFailed(`cannot remove ${basename(existing.file)}`, err)
      }
    }
    return { ok: true, created: false }
  }

  #writeFailed (what: string, err: unknown): ChangeOutcome {
    this.#ctx.logger.error({ err }, `admin API: ${what}; the running config is unchanged`)
    return { ok: false, reason: 'failed', message: `The service could not be saved (${what}); the running config is unchanged` }
  }

  // Validate the whole set, build the next generation and swap it in (`rebuild`: even
  // when the services are the same).
  async #commit (trigger: ReloadTrigger, next: ServiceSet, rebuild = false): Promise<ReloadEvent> {
    const ctx = this.#ctx
    const services = compose(next)
    const problems = checkServiceSet(services, { jwt: ctx.config.auth.jwt !== null })
    if (problems.length > 0) return this.#fail(trigger, problems)
    const diff = diffServices(ctx.config.services, services)
    if (!rebuild && JSON.stringify(services) === JSON.stringify(ctx.config.services)) {
      return this.#done(this.#event(trigger, 'unchanged'))
    }
    try {
      await this.#apply(services)
    } catch (err) {
      ctx.logger.error({ err }, 'building the new routing table failed')
      return this.#fail(trigger, [{ file: '<reload>', path: '', message: `the new routing table could not be built: ${(err as Error).message}` }])
    }
    return this.#done({ trigger, result: 'success', problems: [], ...diff })
  }

  #event (trigger: ReloadTrigger, result: ReloadEvent['result'], problems: ConfigProblem[] = []): ReloadEvent {
    return { trigger, result, problems, added: [], removed: [], changed: [] }
  }

  #fail (trigger: ReloadTrigger, problems: ConfigProblem[]): ReloadEvent {
    // A rejected API body is the caller's 400/409 (and an audit line), not a failed reload.
    if (trigger !== 'admin') {
      const lines = problems.map(formatProblem)
      this.#ctx.metrics.configReloads.inc({ result: 'failure' })
      this.#ctx.logger.error({ trigger, errors: lines }, `config reload rejected, running config kept: ${lines.join('; ')}`)
    }
    const event = this.#event(trigger, 'failure', problems)
    this.emit('reload', event)
    return event
  }

  #done (event: ReloadEvent): ReloadEvent {
    const { logger, metrics } = this.#ctx
    const count = this.#ctx.config.services.length
    if (event.result === 'success') {
      metrics.configReloads.inc({ result: 'success' })
      logger.info({ trigger: event.trigger, added: event.added, removed: event.removed, changed: event.changed, services: count }, 'config reloaded')
    } else if (event.trigger === 'watch') {
      // The watcher seeing the API's own write, an editor's swap file, a touch.
      logger.debug({ trigger: event.trigger }, 'servicesDir changed on disk; services unchanged')
    } else {
      metrics.configReloads.inc({ result: 'success' })
      logger.info({ trigger: event.trigger, services: count }, 'config reloaded; services unchanged')
    }
    this.emit('reload', event)
    return event
  }
}

export function createReloader (opts: ReloaderOptions): Reloader {
  return new Reloader(opts)
}
