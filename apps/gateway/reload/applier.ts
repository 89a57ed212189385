import { EventEmitter } from 'node:events'
import type { ConfigProblem, ServiceSource } from '../../../lib/config-types.ts'
import type { GatewayContext } from '../context.ts'
import type { ServiceConfig } from '../config/types.ts'
import { checkServiceSet } from '../config/index.ts'
import type { ReloadEvent, ReloadReport, ReloadTrigger } from './report.ts'

export type { ReloadEvent, ReloadTrigger } from './report.ts'

// The one place the running service set changes. Providers (file-provider.ts: the main
// file, SIGHUP and the servicesDir watch; admin-provider.ts: the admin API) each hand in
// their own services; the applier validates the whole set, builds the next generation
// and swaps it in, one change at a time (Traefik's provider/watcher split); the cluster
// registry (registry-provider.ts) is one more provider and source.

// Every provider's services; the running set is their concatenation in SOURCES order.
export type ServiceSources = Record<ServiceSource, ServiceConfig[]>
const SOURCES: readonly ServiceSource[] = ['config', 'servicesDir', 'admin', 'registry']

export function composeSources (sources: ServiceSources): ServiceConfig[] {
  return SOURCES.flatMap((s) => sources[s])
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

export interface ApplierOptions {
  ctx: GatewayContext
  applyServices: (services: ServiceConfig[]) => Promise<void>
  report: ReloadReport
}

// Emits 'reload' with every ReloadEvent.
export class ConfigApplier extends EventEmitter {
  readonly #ctx: GatewayContext
  readonly #apply: (services: ServiceConfig[]) => Promise<void>
  readonly #report: ReloadReport
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor (opts: ApplierOptions) {
    super()
    this.#ctx = opts.ctx
    this.#apply = opts.applyServices
    this.#report = opts.report
  }

  get closed (): boolean {
    return this.#closed
  }

  // Runs one provider change at a time, so a watcher event, a SIGHUP and an admin call
  // never interleave (a provider's read-validate-write is one step).
  serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn)
    this.#queue = run.catch(() => {})
    return run
  }

  // Waits for the change in progress; nothing is applied afterwards.
  async close (): Promise<void> {
    this.#closed = true
    await this.#queue
  }

  // The running set, split by the provider each service came from.
  current (): ServiceSources {
    const out: ServiceSources = { config: [], servicesDir: [], admin: [], registry: [] }
    for (const s of this.#ctx.config.services) out[s.source].push(s)
    return out
  }

  // Validate the whole set, build the next generation and swap it in (`rebuild`: even
  // when the services are the same, because a live setting changed).
  async commit (trigger: ReloadTrigger, next: ServiceSources, rebuild = false): Promise<ReloadEvent> {
    const ctx = this.#ctx
    const services = composeSources(next)
    const problems = checkServiceSet(services, { jwt: ctx.config.auth.jwt !== null })
    if (problems.length > 0) return this.fail(trigger, problems)
    const diff = diffServices(ctx.config.services, services)
    if (!rebuild && JSON.stringify(services) === JSON.stringify(ctx.config.services)) {
      return this.#emit(this.#report.unchanged(trigger, services.length))
    }
    try {
      await this.#apply(services)
    } catch (err) {
      ctx.logger.error({ err }, 'building the new routing table failed')
      return this.fail(trigger, [{ file: '<reload>', path: '', message: `the new routing table could not be built: ${(err as Error).message}` }])
    }
    return this.#emit(this.#report.applied({ trigger, result: 'success', problems: [], ...diff }, services.length))
  }

  fail (trigger: ReloadTrigger, problems: ConfigProblem[]): ReloadEvent {
    return this.#emit(this.#report.rejected(trigger, problems))
  }

  // A change refused before it reached the set (the gateway is closing).
  nothing (trigger: ReloadTrigger): ReloadEvent {
    return { trigger, result: 'unchanged', problems: [], added: [], removed: [], changed: [] }
  }

  #emit (event: ReloadEvent): ReloadEvent {
    this.emit('reload', event)
    return event
  }
}
