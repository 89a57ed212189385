import type { FastifyBaseLogger } from 'fastify'
import type { ConfigProblem } from '../../../lib/config-types.ts'
import { formatProblem } from '../config/index.ts'
import type { GatewayMetrics } from '../../../plugins/metrics/index.ts'

// registry: the cluster registry announced a change (or reconnected).
export type ReloadTrigger = 'watch' | 'sighup' | 'admin' | 'manual' | 'registry'

export interface ReloadEvent {
  trigger: ReloadTrigger
  // unchanged: the providers say what is already running (e.g. the watcher seeing the
  // admin API's own write); nothing is rebuilt.
  result: 'success' | 'failure' | 'unchanged'
  problems: ConfigProblem[]
  added: string[]
  removed: string[]
  changed: string[]
}

// The last reload counted by gatehouse_config_reloads_total, for the status page.
export interface LastReload {
  time: Date
  trigger: ReloadTrigger
  result: 'success' | 'failure'
  // The problems of a rejected change, one `<file>: <key path>: <message>` a line.
  errors: string[]
}

// What a reload tells ops: `gatehouse_config_reloads_total{result}`, one log line
// (SPEC "Operations": a rejected change at error, naming file and key path) and the
// status page's "last reload".
export interface ReloadReport {
  applied: (event: ReloadEvent, services: number) => ReloadEvent
  unchanged: (trigger: ReloadTrigger, services: number) => ReloadEvent
  rejected: (trigger: ReloadTrigger, problems: ConfigProblem[]) => ReloadEvent
  last: () => LastReload | null
}

export function createReloadReport (deps: { metrics: GatewayMetrics, logger: FastifyBaseLogger }): ReloadReport {
  const { metrics, logger } = deps
  const event = (trigger: ReloadTrigger, result: ReloadEvent['result'], problems: ConfigProblem[] = []): ReloadEvent =>
    ({ trigger, result, problems, added: [], removed: [], changed: [] })
  let last: LastReload | null = null
  // Every counted reload, and only those, is the last one.
  const count = (trigger: ReloadTrigger, result: LastReload['result'], errors: string[] = []) => {
    metrics.configReloads.inc({ result })
    last = { time: new Date(), trigger, result, errors }
  }
  return {
    last: () => last,
    applied (e, services) {
      count(e.trigger, 'success')
      logger.info({ trigger: e.trigger, added: e.added, removed: e.removed, changed: e.changed, services }, 'config reloaded')
      return e
    },
    unchanged (trigger, services) {
      if (trigger === 'watch') {
        // The watcher seeing the API's own write, an editor's swap file, a touch.
        logger.debug({ trigger }, 'servicesDir changed on disk; services unchanged')
      } else {
        count(trigger, 'success')
        logger.info({ trigger, services }, 'config reloaded; services unchanged')
      }
      return event(trigger, 'unchanged')
    },
    rejected (trigger, problems) {
      // A rejected API body is the caller's 400/409 (and an audit line), not a failed reload.
      if (trigger !== 'admin') {
        const lines = problems.map(formatProblem)
        count(trigger, 'failure', lines)
        logger.error({ trigger, errors: lines }, `config reload rejected, running config kept: ${lines.join('; ')}`)
      }
      return event(trigger, 'failure', problems)
    },
  }
}
