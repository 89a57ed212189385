import { basename } from 'node:path'
import type { GatewayContext } from '../context.ts'
import { loadConfig, loadServicesDir, type Env } from '../config/index.ts'
import { generationSettingsChanged, restartOnlyChanges, withLiveSettings } from './restart-only.ts'
import { watchDir, type DirWatch } from './watch-dir.ts'
import type { ConfigApplier, ReloadEvent, ReloadTrigger } from './applier.ts'

// The file provider: the main config file (re-read on SIGHUP, as at start-up) and the
// servicesDir (watched; also re-read on SIGHUP). It owns what comes from files: the
// `config` and `servicesDir` sources, and the live settings of the main file.
export interface FileProviderOptions {
  ctx: GatewayContext
  applier: ConfigApplier
  env?: Env
  debounceMs?: number
}

export class FileProvider {
  readonly #ctx: GatewayContext
  readonly #applier: ConfigApplier
  readonly #env: Env
  readonly #debounceMs: number | undefined
  #watch: DirWatch | null = null
  #watching = false
  #dirReloadQueued = false

  constructor (opts: FileProviderOptions) {
    this.#ctx = opts.ctx
    this.#applier = opts.applier
    this.#env = opts.env ?? process.env
    this.#debounceMs = opts.debounceMs
  }

  // SIGHUP: the main file and servicesDir, as at start-up.
  reload (trigger: ReloadTrigger): Promise<ReloadEvent> {
    return this.#applier.serial(() => this.#reloadAll(trigger))
  }

  // The watcher's reload: servicesDir only, the main file's services as they run.
  reloadServicesDir (trigger: ReloadTrigger): Promise<ReloadEvent> {
    return this.#applier.serial(() => this.#reloadDir(trigger))
  }

  watch (): void {
    this.#watching = true
    this.#rearm()
  }

  close (): void {
    this.#watching = false
    this.#watch?.close()
    this.#watch = null
  }

  #rearm () {
    this.#watch?.close()
    this.#watch = null
    const dir = this.#ctx.config.servicesDir
    if (!this.#watching || this.#applier.closed || dir === null) return
    this.#watch = watchDir(dir, () => this.#onDirChange(), {
      debounceMs: this.#debounceMs,
      onError: (err) => this.#ctx.logger.warn({ err, servicesDir: dir }, 'servicesDir watch failed; watching it again in 1 s'),
    })
  }

  #onDirChange () {
    // One queued re-read covers every event that arrives before it starts.
    if (this.#dirReloadQueued) return
    this.#dirReloadQueued = true
    void this.#applier.serial(() => {
      this.#dirReloadQueued = false
      return this.#reloadDir('watch')
    })
  }

  async #reloadAll (trigger: ReloadTrigger): Promise<ReloadEvent> {
    const ctx = this.#ctx
    const file = ctx.config.file
    if (file === null) return this.#reloadDir(trigger)
    if (this.#applier.closed) return this.#applier.nothing(trigger)
    let loaded: Awaited<ReturnType<typeof loadConfig>>
    try {
      loaded = await loadConfig(file, this.#env)
    } catch (err) {
      return this.#applier.fail(trigger, [{ file: basename(file), path: '', message: `cannot be loaded: ${(err as Error).message}` }])
    }
    const config = loaded.config
    if (config === null) return this.#applier.fail(trigger, loaded.problems)
    const { logger } = ctx
    const restart = restartOnlyChanges(ctx.config, config)
    if (restart.listen.length > 0) {
      logger.warn({ keys: restart.listen }, `listen address change needs a restart; ignored: ${restart.listen.join(', ')}`)
    }
    if (restart.other.length > 0) {
      logger.warn({ keys: restart.other }, `config change needs a restart; ignored until then: ${restart.other.join(', ')}`)
    }
    const next = {
      ...this.#applier.current(),
      config: config.services.filter((s) => s.source === 'config'),
      servicesDir: config.services.filter((s) => s.source === 'servicesDir'),
    }
    const dirBefore = ctx.config.servicesDir
    // Live settings are in place while the next generation is built (its plugins read
    // them then), and put back if the change is rejected.
    const before = { config: ctx.config, level: logger.level }
    const rebuild = generationSettingsChanged(before.config, config)
    ctx.config = withLiveSettings(before.config, config)
    logger.level = config.logging.level
    const event = await this.#applier.commit(trigger, next, rebuild)
    if (event.result === 'failure') {
      ctx.config = { ...before.config, rateLimit: ctx.config.rateLimit }
      logger.level = before.level
    }
    // Also re-arms a watch lost with a replaced directory.
    if (event.result !== 'failure' || dirBefore !== ctx.config.servicesDir) this.#rearm()
    return event
  }

  async #reloadDir (trigger: ReloadTrigger): Promise<ReloadEvent> {
    const dir = this.#ctx.config.servicesDir
    if (this.#applier.closed) return this.#applier.nothing(trigger)
    const current = this.#applier.current()
    if (dir === null) return this.#applier.commit(trigger, current)
    let loaded: Awaited<ReturnType<typeof loadServicesDir>>
    try {
      loaded = await loadServicesDir(dir, this.#env)
    } catch (err) {
      return this.#applier.fail(trigger, [{ file: basename(dir), path: '', message: `cannot be loaded: ${(err as Error).message}` }])
    }
    if (loaded.problems.length > 0) return this.#applier.fail(trigger, loaded.problems)
    return this.#applier.commit(trigger, { ...current, servicesDir: loaded.services })
  }
}
