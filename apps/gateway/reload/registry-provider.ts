import { dirname } from 'node:path'
import type { GatewayContext } from '../context.ts'
import type { ConfigProblem } from '../../../lib/config-types.ts'
import type { ServiceConfig } from '../config/types.ts'
import { checkServiceSet, parseServiceDefinition } from '../config/index.ts'
import { RedisRegistry, RegistryUnreachable, type RegistrySnapshot } from '../../../plugins/registry/redis-registry.ts'
import type { ConfigApplier, ReloadEvent } from './applier.ts'

// The registry provider (SPEC "Cluster"): the `registry` source is the set stored in
// Redis, re-read whenever the store announces a change or reconnects, and applied
// through the one applier like every other provider. Admin writes (admin-provider.ts
// hands them over when a registry is configured) go to Redis first; the instance that
// took the write then applies the stored set like every other instance does.

export const REGISTRY_LABEL = '<registry>'

export type RegistryWriteOutcome =
  | { ok: true, created: boolean }
  | { ok: false, reason: 'invalid', errors: string[] }
  | { ok: false, reason: 'conflict' | 'not-found' | 'failed' | 'unavailable', message: string }

const UNAVAILABLE = 'The cluster registry (Redis) is unreachable; the running services are unchanged. Try again when it is back'

function relative (p: ConfigProblem): string {
  return p.path === '' ? p.message : `${p.path}: ${p.message}`
}

export class RegistryProvider {
  readonly #ctx: GatewayContext
  readonly #applier: ConfigApplier
  readonly #store: RedisRegistry
  // The revision of the set running here; an older read is never applied over it.
  #applied = -1
  #resyncQueued = false
  #loaded = false
  #onLoaded: Array<() => void> = []

  constructor (opts: { ctx: GatewayContext, applier: ConfigApplier }) {
    this.#ctx = opts.ctx
    this.#applier = opts.applier
    const { ctx } = opts
    this.#store = new RedisRegistry({ config: ctx.config.registry!, logger: ctx.logger, metrics: ctx.metrics })
    this.#store.on('changed', () => this.#queueResync())
  }

  // True once the stored set has been read and applied (or rejected, which is logged):
  // /readyz waits for it.
  get loaded (): boolean {
    return this.#loaded
  }

  // The first connection (bounded) and the first read. Without Redis the gateway starts
  // anyway, not ready, and loads the set as soon as Redis answers.
  async start (): Promise<void> {
    await this.#store.started()
    await this.#applier.serial(() => this.#resync())
  }

  whenLoaded (): Promise<void> {
    if (this.#loaded) return Promise.resolve()
    return new Promise((resolve) => this.#onLoaded.push(resolve))
  }

  // Called inside the applier's serial section (admin-provider.ts).
  async put (name: string, body: Record<string, unknown>): Promise<RegistryWriteOutcome> {
    const ctx = this.#ctx
    const parsed = parseServiceDefinition(body, { file: REGISTRY_LABEL, source: 'registry', baseDir: this.#baseDir(), env: {}, label: '<admin>' })
    const service = parsed.service
    if (service === null) return { ok: false, reason: 'invalid', errors: parsed.problems.map(relative) }
    const current = this.#applier.current()
    // What every instance runs from its own files; the stored set is checked by Redis
    // itself, atomically with the write (plugins/registry/redis-registry.ts).
    const local = [...current.config, ...current.servicesDir]
    const clash = local.find((s) => s.prefix === service.prefix)
    if (clash !== undefined) return { ok: false, reason: 'conflict', message: `Prefix "${service.prefix}" is already used by service "${clash.name}"` }
    const setProblems = checkServiceSet([...local, service], { jwt: ctx.config.auth.jwt !== null })
    if (setProblems.length > 0) return { ok: false, reason: 'invalid', errors: setProblems.map(relative) }
    let written
    try {
      written = await this.#store.put(name, service.prefix, body)
    } catch (err) {
      return this.#unavailable(err)
    }
    if (!written.ok) {
      const holder = written.reason === 'conflict' ? written.holder : '?'
      return { ok: false, reason: 'conflict', message: `Prefix "${service.prefix}" is already used by service "${holder}"` }
    }
    const event = await this.#resync()
    if (event === null) return { ok: false, reason: 'unavailable', message: 'The change was stored in the cluster registry but could not be read back; it is applied when Redis answers again' }
    if (event.result === 'failure') return { ok: false, reason: 'failed', message: 'The change was stored in the cluster registry but this instance could not apply it (see its log)' }
    return { ok: true, created: written.created }
  }

  async delete (name: string): Promise<RegistryWriteOutcome> {
    let written
    try {
      written = await this.#store.delete(name)
    } catch (err) {
      return this.#unavailable(err)
    }
    if (!written.ok) {
      // A copy running here that the cluster no longer holds goes now too.
      await this.#resync()
      return { ok: false, reason: 'not-found', message: `No service named "${name}"` }
    }
    const event = await this.#resync()
    if (event === null || event.result === 'failure') {
      return { ok: false, reason: 'failed', message: 'The service was removed from the cluster registry but this instance could not apply it yet (see its log)' }
    }
    return { ok: true, created: false }
  }

  close (): Promise<void> {
    return this.#store.close()
  }

  #baseDir (): string {
    const file = this.#ctx.config.file
    return file === null ? process.cwd() : dirname(file)
  }

  #unavailable (err: unknown): RegistryWriteOutcome {
    this.#ctx.logger.warn({ reason: (err as Error).message }, 'admin API: registry write refused, Redis unreachable')
    return { ok: false, reason: 'unavailable', message: UNAVAILABLE }
  }

  // One queued re-read covers every announcement that arrives before it starts.
  #queueResync () {
    if (this.#resyncQueued || this.#applier.closed) return
    this.#resyncQueued = true
    void this.#applier.serial(() => {
      this.#resyncQueued = false
      return this.#resync()
    })
  }

  // Read the stored set and apply it; null when Redis could not be read. Runs in the
  // applier's serial section.
  async #resync (): Promise<ReloadEvent | null> {
    if (this.#applier.closed) return this.#applier.nothing('registry')
    let snapshot: RegistrySnapshot
    try {
      snapshot = await this.#store.snapshot()
    } catch (err) {
      if (!(err instanceof RegistryUnreachable)) throw err
      return null
    }
    // Already running (this instance's own write, announced back), or older than what runs.
    if (snapshot.revision <= this.#applied) {
      this.#store.synced()
      return this.#applier.nothing('registry')
    }
    const result = await this.#apply(snapshot)
    if (result.result !== 'failure') this.#applied = snapshot.revision
    this.#store.synced()
    this.#markLoaded()
    return result
  }

  async #apply (snapshot: RegistrySnapshot): Promise<ReloadEvent> {
    const services: ServiceConfig[] = []
    const problems: ConfigProblem[] = []
    for (const entry of snapshot.entries) {
      const parsed = parseServiceDefinition(entry.body, {
        file: REGISTRY_LABEL, source: 'registry', baseDir: this.#baseDir(), env: {}, label: `${REGISTRY_LABEL} ${entry.name}`,
      })
      if (parsed.service === null) problems.push(...parsed.problems)
      else services.push(parsed.service)
    }
    if (problems.length > 0) return this.#applier.fail('registry', problems)
    // The applier checks the whole set (names, prefixes, auth) as for any other change.
    return this.#applier.commit('registry', { ...this.#applier.current(), registry: services })
  }

  #markLoaded () {
    if (this.#loaded) return
    this.#loaded = true
    for (const resolve of this.#onLoaded.splice(0)) resolve()
  }
}
