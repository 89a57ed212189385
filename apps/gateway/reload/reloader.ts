import { EventEmitter } from 'node:events'
import type { GatewayContext } from '../context.ts'
import type { ServiceConfig } from '../config/types.ts'
import type { Env } from '../config/index.ts'
import { ConfigApplier, type ReloadEvent, type ReloadTrigger } from './applier.ts'
import { FileProvider } from './file-provider.ts'
import { AdminProvider, type ChangeOutcome } from './admin-provider.ts'
import { createReloadReport, type LastReload, type ReloadReport } from './report.ts'
import { RegistryProvider } from './registry-provider.ts'

// The gateway's one handle on config change: the providers (files, admin API, the
// cluster registry when configured) wired to the one applier. Emits 'reload' with every ReloadEvent.

export type { ChangeOutcome } from './admin-provider.ts'
export type { ReloadEvent, ReloadTrigger } from './applier.ts'
export type { LastReload } from './report.ts'

export interface ReloaderOptions {
  ctx: GatewayContext
  applyServices: (services: ServiceConfig[]) => Promise<void>
  env?: Env
  debounceMs?: number
}

export class Reloader extends EventEmitter {
  readonly #applier: ConfigApplier
  readonly #files: FileProvider
  readonly #admin: AdminProvider
  readonly #registry: RegistryProvider | null
  readonly #report: ReloadReport

  constructor (opts: ReloaderOptions) {
    super()
    const report = this.#report = createReloadReport({ metrics: opts.ctx.metrics, logger: opts.ctx.logger })
    this.#applier = new ConfigApplier({ ctx: opts.ctx, applyServices: opts.applyServices, report })
    this.#files = new FileProvider({ ctx: opts.ctx, applier: this.#applier, env: opts.env, debounceMs: opts.debounceMs })
    this.#registry = opts.ctx.config.registry === null ? null : new RegistryProvider({ ctx: opts.ctx, applier: this.#applier })
    this.#admin = new AdminProvider({ ctx: opts.ctx, applier: this.#applier, registry: this.#registry })
    this.#applier.on('reload', (event: ReloadEvent) => this.emit('reload', event))
  }

  // SIGHUP: the main file and servicesDir, as at start-up.
  reload (trigger: ReloadTrigger = 'manual'): Promise<ReloadEvent> {
    return this.#files.reload(trigger)
  }

  // The watcher's reload: servicesDir only, the main file's services as they run.
  reloadServicesDir (trigger: ReloadTrigger = 'manual'): Promise<ReloadEvent> {
    return this.#files.reloadServicesDir(trigger)
  }

  // The last reload counted as success or failure (the status page); null before any.
  lastReload (): LastReload | null {
    return this.#report.last()
  }

  putService (name: string, raw: unknown): Promise<ChangeOutcome> {
    return this.#admin.put(name, raw)
  }

  deleteService (name: string): Promise<ChangeOutcome> {
    return this.#admin.delete(name)
  }

  // Connects the cluster registry and applies the stored services (bounded by the connect
  // timeout; without Redis the gateway starts not ready and loads them when Redis answers).
  async start (): Promise<void> {
    await this.#registry?.start()
  }

  // /readyz: the stored services are running (always true without a registry).
  get registryLoaded (): boolean {
    return this.#registry === null || this.#registry.loaded
  }

  whenRegistryLoaded (): Promise<void> {
    return this.#registry?.whenLoaded() ?? Promise.resolve()
  }

  // Start watching servicesDir (no-op without one). server.ts calls it for the real
  // process; tests call it when they need the watcher.
  watch (): void {
    this.#files.watch()
  }

  // Stops the watcher and waits for a change in progress, so nothing is built after the
  // gateway closes.
  async close (): Promise<void> {
    const closing = this.#applier.close()
    this.#files.close()
    await closing
    await this.#registry?.close()
  }
}

export function createReloader (opts: ReloaderOptions): Reloader {
  return new Reloader(opts)
}
